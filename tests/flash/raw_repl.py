# A board's raw REPL, for the unix port of MicroPython (which has none), so that the real
# mpremote can copy files to a directory and run code as it would on a board. Run by socat on
# a pseudo-terminal: socat PTY,link=DEV,raw,echo=0 EXEC:"micropython raw_repl.py",pty,raw,echo=0
import sys

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
stdin = sys.stdin.buffer
stdout = sys.stdout.buffer


def run(code, scope):
    stdout.write(b"OK")
    try:
        exec(code, scope)
        stdout.write(b"\x04")
    except BaseException as err:
        stdout.write(b"\x04")
        sys.print_exception(err, sys.stdout)
    stdout.write(b"\x04>")


def main():
    scope = {"__name__": "__main__"}
    raw = False
    code = bytearray()
    while True:
        byte = stdin.read(1)
        if not byte:
            return
        char = byte[0]
        if char == 0x01:
            raw = True
            code = bytearray()
            stdout.write(BANNER)
        elif not raw:
            continue
        elif char == 0x02:
            raw = False
            stdout.write(b"\r\nMicroPython raw REPL responder\r\n>>> ")
        elif char == 0x03:
            code = bytearray()
        elif char == 0x05:
            stdin.read(2)  # "A\x01": a raw-paste request, which this responder declines
            stdout.write(b"R\x00")
        elif char == 0x04 and not code:
            scope = {"__name__": "__main__"}
            stdout.write(b"\r\nsoft reboot\r\n" + BANNER)
        elif char == 0x04:
            run(bytes(code), scope)
            code = bytearray()
        else:
            code.append(char)


main()
