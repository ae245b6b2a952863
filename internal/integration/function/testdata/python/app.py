import json
import os


def handler(event, context):
    body = json.loads(event.get("body") or "{}")
    if body.get("action") == "error":
        raise ValueError("bad value")
    if body.get("action") == "unserializable":
        return {"statusCode": 200, "body": object()}
    print("python says", body.get("text"))
    return {
        "statusCode": 200,
        "body": json.dumps({
            "requestId": context.aws_request_id,
            "arn": context.invoked_function_arn,
            "remaining": context.get_remaining_time_in_millis(),
            "functionName": context.function_name,
            "executionEnv": os.environ.get("AWS_EXECUTION_ENV"),
            "text": body.get("text"),
        }),
    }
