#!/bin/bash
# run_shim.sh LOGNAME [VARIANT]  -> creates a fresh pool session, (re)starts the shim on 60101 against its cdp_url
KEY=$(cat /tmp/research24-logs/key)
[ -f /tmp/research24-logs/shim.pid ] && kill $(cat /tmp/research24-logs/shim.pid) 2>/dev/null; sleep 0.3
[ -f /tmp/research24-logs/session.json ] && OLD=$(python3 -c "import json;print(json.load(open('/tmp/research24-logs/session.json')).get('session_id',''))") && [ -n "$OLD" ] && curl -s -o /dev/null -X DELETE http://127.0.0.1:35407/v1/browser/sessions/$OLD -H "X-API-Key: $KEY"
curl -s -X POST http://127.0.0.1:35407/v1/browser/sessions/ -H "X-API-Key: $KEY" -H 'Content-Type: application/json' -d '{"timeout_seconds": 3600}' > /tmp/research24-logs/session.json
CDP=$(python3 -c "import json;print(json.load(open('/tmp/research24-logs/session.json'))['cdp_url'])")
SHIM_VARIANT=${2:-full} nohup /tmp/research24-venv/bin/python /work/research24/shim.py 60101 "$CDP" /tmp/research24-logs/shim-$1.jsonl > /tmp/research24-logs/shim-$1.out 2>&1 &
echo $! > /tmp/research24-logs/shim.pid
sleep 1.2
python3 -c "import json;print('session', json.load(open('/tmp/research24-logs/session.json'))['session_id'])"
