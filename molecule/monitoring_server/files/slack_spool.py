"""Runs the collection's Slack stand-in (tests/integration/slack_receiver.py) on a fixed port and
writes every request it receives to a spool directory as JSON, one file a request, for the tests."""

import argparse
import json
import os
import time

from slack_receiver import SlackReceiver


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--port', type=int, required=True)
    parser.add_argument('--spool', required=True)
    args = parser.parse_args()
    os.makedirs(args.spool, exist_ok=True)
    receiver = SlackReceiver(port=args.port).start()
    seen = 0
    while True:
        time.sleep(0.2)
        requests = list(receiver.requests)
        for index, request in enumerate(requests[seen:], start=seen):
            name = os.path.join(args.spool, '%06d.json' % index)
            with open(name + '.tmp', 'w') as handle:
                json.dump({'path': request.path, 'json': request.json}, handle)
            os.replace(name + '.tmp', name)
        seen = len(requests)


if __name__ == '__main__':
    main()
