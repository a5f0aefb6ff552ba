/**
 * Flags for the node process that runs the gateway. V8 sizes its heap when the process starts, so
 * `v8.setFlagsFromString` from the gateway itself would come too late: whatever starts the gateway
 * passes them (the systemd unit of `gateway install-unit`, the image's ENTRYPOINT in
 * deploy/Dockerfile, which repeats them (test/cli/node-flags.test.ts), and the bench). Not the
 * `dockward` script's `#!` line: `env -S` is GNU's, and BusyBox's env (Alpine) refuses it, which
 * would stop every dockward command there for the sake of a heap size.
 *
 * `--initial-old-space-size=64`: with V8's default the old generation's limit sits at ~37 MB over a
 * ~14 MB heap, and a process relaying a stream can fall into marking and compacting every 13-15 MB
 * relayed (13-18 full collections per 200 MB archive download, each freeing ~1 MB), and stay there.
 * With 64 MB to start from it did none (issue #15, 2026-11-26, shared 2-core machine, two runs of
 * 2 processes each way, 3 transfers per process): gateway CPU per MB on a 200 MB archive download
 * 3.65-4.95 -> 2.05-2.60 ms, on an upload 3.70-4.20 -> 2.15-2.35 ms; per /containers/json at c=16
 * 516-616 -> 459-481 µs. The
 * cost is up to ~50 MB more heap before the first full collection.
 */
export const GATEWAY_NODE_FLAGS = ['--initial-old-space-size=64'];
