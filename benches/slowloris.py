#!/usr/bin/env python3
"""Holds N connections open against HOST:PORT, each sending one byte of an endless request
head per second, for DURATION seconds. Prints how many were open at the end and how many the
server closed. Usage: slowloris.py PORT N DURATION"""
import asyncio
import sys


async def one(port, duration, stats):
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        stats["refused"] += 1
        return
    stats["open"] += 1
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100000
    loop = asyncio.get_running_loop()
    end = loop.time() + duration
    i = 0
    try:
        while loop.time() < end:
            writer.write(head[i:i + 1])
            i += 1
            await writer.drain()
            await asyncio.sleep(1)
    except (ConnectionError, OSError):
        stats["closed_by_server"] += 1
    finally:
        stats["open"] -= 1
        writer.close()


async def main():
    port, n, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
    stats = {"open": 0, "refused": 0, "closed_by_server": 0}
    tasks = []
    for _ in range(n):
        tasks.append(asyncio.create_task(one(port, duration, stats)))
        await asyncio.sleep(0.0005)
    await asyncio.gather(*tasks)
    print(f"slowloris: {n} connections, refused {stats['refused']}, closed by server {stats['closed_by_server']}")


asyncio.run(main())
