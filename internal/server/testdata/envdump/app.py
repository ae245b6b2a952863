# A Lambda handler (python runtime) that answers every message with its
# own environment as a JSON object: the server tests check what a worker
# gets and what it does not.
import json
import os


def handler(event, context):
    if event["requestContext"]["routeKey"] != "$default":
        return {"statusCode": 200}
    return {"statusCode": 200, "body": json.dumps(dict(os.environ))}
