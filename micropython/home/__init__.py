# MicroHome node firmware. main.py calls home.node.run(config).
