#!/bin/bash
# start_cd.sh PORT LOG  -> prints pid and ms until /status ready
PORT=$1; LOG=$2
T0=$(date +%s%N)
chromedriver --port=$PORT --verbose --log-path=$LOG > /dev/null 2>&1 &
PID=$!
until curl -s -o /dev/null http://127.0.0.1:$PORT/status; do sleep 0.005; done
T1=$(date +%s%N)
echo "pid=$PID ready_ms=$(( (T1-T0)/1000000 ))"
