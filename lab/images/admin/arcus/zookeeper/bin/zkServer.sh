#!/bin/bash
# zkServer.sh start|stop|status for the Arcus install's ZooKeeper, in the manner of upstream's
# script, on the host's Debian ZooKeeper through the host image's `lab-zk-java` (the one JVM
# command line of the lab: Debian's jars, slf4j-simple for readable logs, small heap, JMX off,
# no admin server, a class-data archive for a quick start).
# Config ../conf/zoo.cfg (written by `arcus.sh zookeeper init`), log ../logs/zookeeper.out,
# pid file <dataDir>/zookeeper_server.pid.

ZOOBINDIR=$(cd "$(dirname "$0")" && pwd)
ZOOCFGDIR="$ZOOBINDIR/../conf"
ZOOCFG="$ZOOCFGDIR/zoo.cfg"
ZOO_LOG_DIR="$ZOOBINDIR/../logs"
ZOOJAVA=/usr/local/bin/lab-zk-java
# How long `start` waits for the client port, `stop` for the process to end (seconds), and how
# often both look (50 times a second). bash, not sh: the looks are builtins (a connect through
# /dev/tcp, `kill -0`, a `read -t` pause), where sh would fork nc and sleep 100 times a second on
# a host whose JVM is starting and needs the CPU.
START_DEADLINE=30
STOP_DEADLINE=10
POLLS_PER_SECOND=50

# pause: one poll interval (1/POLLS_PER_SECOND s) without a process, a `read -t` on a FIFO that
# nobody writes to.
PAUSE_SECONDS=$(printf '0.%03d' $((1000 / POLLS_PER_SECOND)))
pause_fd=
pause() {
    if [ -z "$pause_fd" ]; then
        local fifo
        fifo=$(mktemp -u) && mkfifo "$fifo" && exec {pause_fd}<>"$fifo" && rm -f "$fifo"
    fi
    read -r -t "$PAUSE_SECONDS" -u "$pause_fd" _ || true
}

# port_open PORT: the port accepts a connection on loopback.
port_open() {
    # the connection is closed again at once (the redirection lasts for `:` only)
    : 2>/dev/null < "/dev/tcp/127.0.0.1/$1"
}

# Upstream prints these two on stderr; over ssh, stderr and stdout travel in separate channels and
# reach the admin in any order, so they go to stdout, keeping the runbook's order.
echo "JMX disabled by user request"
echo "Using config: $ZOOCFG"

cfg() {
    sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*//p" "$ZOOCFG" | tail -n 1
}

if [ -f "$ZOOCFG" ]; then
    ZOO_DATADIR=$(cfg dataDir)
    ZOO_PORT=$(cfg clientPort)
fi
PIDFILE="$ZOO_DATADIR/zookeeper_server.pid"

running() {
    [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

case "$1" in
start)
    printf 'Starting zookeeper ... '
    if [ -z "$ZOO_DATADIR" ] || [ -z "$ZOO_PORT" ]; then
        echo "FAILED TO START"
        echo "$ZOOCFG is missing or has no dataDir/clientPort: run arcus.sh zookeeper init first" >&2
        exit 1
    fi
    if [ ! -x "$ZOOJAVA" ]; then
        echo "FAILED TO START"
        echo "$ZOOJAVA not found: this host is not a lab host image (it brings Debian's ZooKeeper)" >&2
        exit 1
    fi
    if running; then
        echo "already running as process $(cat "$PIDFILE")."
        exit 0
    fi
    mkdir -p "$ZOO_DATADIR" "$ZOO_LOG_DIR"
    nohup "$ZOOJAVA" -Dzookeeper.log.dir="$ZOO_LOG_DIR" \
        org.apache.zookeeper.server.quorum.QuorumPeerMain "$ZOOCFG" \
        > "$ZOO_LOG_DIR/zookeeper.out" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$PIDFILE"
    # STARTED once the client port accepts connections; FAILED if the JVM ends first.
    waited=0
    while ! port_open "$ZOO_PORT"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            rm -f "$PIDFILE"
            echo "FAILED TO START"
            tail -n 20 "$ZOO_LOG_DIR/zookeeper.out" >&2
            exit 1
        fi
        if [ "$waited" -ge $((START_DEADLINE * POLLS_PER_SECOND)) ]; then
            echo "FAILED TO START"
            echo "port $ZOO_PORT not open after $START_DEADLINE s; see $ZOO_LOG_DIR/zookeeper.out" >&2
            exit 1
        fi
        pause
        waited=$((waited + 1))
    done
    echo STARTED
    ;;
stop)
    printf 'Stopping zookeeper ... '
    if [ ! -f "$PIDFILE" ]; then
        echo "no zookeeper to stop (could not find file $PIDFILE)"
        exit 0
    fi
    pid=$(cat "$PIDFILE")
    # SIGKILL, as the ZooKeeper 3.4 that Arcus bundles does (the runbook's 3.4.5): ZooKeeper keeps
    # nothing for a clean exit, and a JVM asked to exit waits 300 ms for its threads in native code.
    # Unlike 3.4, this returns only once the process is gone.
    kill -9 "$pid" 2>/dev/null
    waited=0
    while kill -0 "$pid" 2>/dev/null; do
        if [ "$waited" -ge $((STOP_DEADLINE * POLLS_PER_SECOND)) ]; then
            echo "FAILED: process $pid still there after $STOP_DEADLINE s"
            exit 1
        fi
        pause
        waited=$((waited + 1))
    done
    rm -f "$PIDFILE"
    echo STOPPED
    ;;
status)
    if ! running; then
        echo "Error contacting service. It is probably not running."
        exit 1
    fi
    mode=$(echo srvr | nc 127.0.0.1 "$ZOO_PORT" 2>/dev/null | sed -n 's/^Mode: //p')
    if [ -z "$mode" ]; then
        echo "Error contacting service. It is probably not running."
        exit 1
    fi
    echo "Client port found: $ZOO_PORT."
    echo "Mode: $mode"
    ;;
*)
    echo "Usage: $0 {start|stop|status}" >&2
    exit 1
    ;;
esac
