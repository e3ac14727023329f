"""A line echo service for the socket scenario: reads one line per connection, sends it back, and logs
"peer=IP:PORT line=..." (one line per connection) to the file named on the command line.

echo-server.py ADDRESS PORT LOGFILE
"""
import socketserver
import sys
import threading

LOCK = threading.Lock()


class Echo(socketserver.StreamRequestHandler):
    timeout = 10

    def handle(self):
        try:
            line = self.rfile.readline(4096)
            self.wfile.write(line)
            self.wfile.flush()
        except OSError:
            line = b"(error)"
        text = line.decode("ascii", "replace").strip()
        with LOCK, open(sys.argv[3], "a", encoding="ascii") as log:
            log.write("peer=%s:%d line=%s\n" % (self.client_address[0], self.client_address[1], text))


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


if __name__ == "__main__":
    with Server((sys.argv[1], int(sys.argv[2])), Echo) as server:
        server.serve_forever()
