"""Opens N keep-alive connections to 127.0.0.1:PORT, sends one request on each and reads its
response, then holds them all idle and prints "ready" until standard input closes.

    python3 benches/idle_conns.py PORT N
"""
import resource
import selectors
import socket
import sys

port, n = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"
conns = []
sel = selectors.DefaultSelector()
# A few hundred in flight at a time: the backlog and the server see a steady arrival, not one
# burst, as clients of a real site would come.
BATCH = 200
for start in range(0, n, BATCH):
    batch = []
    for _ in range(min(BATCH, n - start)):
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(request)
        batch.append(s)
    for s in batch:
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                sys.exit(f"connection closed by the server after {len(conns)} connections")
            got += chunk
    conns.extend(batch)
print("ready", flush=True)
sys.stdin.read()
