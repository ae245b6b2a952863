// The AWS "simple WebSocket chat" handler (API Gateway WebSocket API +
// Lambda + DynamoDB, as in aws-samples/simple-websockets-chat-app and the
// API Gateway chat tutorial), in one function for all routes. Nothing in it
// knows about Switchboard: it reads the Lambda proxy event, keeps the
// connection ids, and pushes messages with the AWS SDK v3
// ApiGatewayManagementApiClient, exactly as it does on AWS.
import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";

// The "table" of open connections. On AWS it is a DynamoDB table (PutItem on
// $connect, DeleteItem on $disconnect, Scan on sendMessage), because every
// invocation may run in another execution environment. Here it is this
// module's memory, which is right only because switchboard.yaml runs exactly
// one worker (maxConcurrency: 1, minWorkers: 1).
//
// With Switchboard the table is not needed at all: the gateway knows its
// connections (GET /production/@connections), a broadcast to every
// connection or to a channel is one call (POST /production/@broadcast,
// POST /production/@channels/{name}), and a route action can broadcast with
// no backend (the seed chat's sendMessage). This example keeps the table
// because its point is that the AWS handler runs unchanged.
const connections = new Set();

// The management API endpoint. On AWS: the API's own URL,
// https://{api-id}.execute-api.{region}.amazonaws.com/{stage}, built from the
// event. Under Switchboard: WEBSOCKET_ENDPOINT (switchboard.yaml),
// http://127.0.0.1:8080/production.
let client;
function managementApi({ domainName, stage }) {
  client ??= new ApiGatewayManagementApiClient({
    endpoint: process.env.WEBSOCKET_ENDPOINT ?? `https://${domainName}/${stage}`,
  });
  return client;
}

export const handler = async (event) => {
  const { routeKey, connectionId } = event.requestContext;
  switch (routeKey) {
    case "$connect":
      connections.add(connectionId);
      return { statusCode: 200, body: "Connected." };
    case "$disconnect":
      connections.delete(connectionId);
      return { statusCode: 200, body: "Disconnected." };
    case "sendMessage":
      return sendMessage(event);
    default:
      return help(event);
  }
};

// sendMessage posts {"message", "sender", "timestamp"} (the seed chat's
// shape) to every stored connection, the sender included, and forgets the
// connections that are gone (410 GoneException), as the AWS sample does.
async function sendMessage(event) {
  const { connectionId, requestTimeEpoch } = event.requestContext;
  let message;
  try {
    ({ message } = JSON.parse(event.body));
  } catch {
    return { statusCode: 400, body: "The body is not JSON." };
  }
  const data = JSON.stringify({ message, sender: connectionId, timestamp: requestTimeEpoch });

  const api = managementApi(event.requestContext);
  const postCalls = [...connections].map(async (id) => {
    try {
      await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: data }));
    } catch (e) {
      if (e instanceof GoneException || e.$metadata?.httpStatusCode === 410) {
        console.log(`Found stale connection, deleting ${id}`);
        connections.delete(id);
      } else {
        throw e;
      }
    }
  });

  try {
    await Promise.all(postCalls);
  } catch (e) {
    return { statusCode: 500, body: e.stack };
  }
  return { statusCode: 200, body: "Data sent." };
}

// help answers any other message ($default) to its sender only.
async function help(event) {
  const { connectionId } = event.requestContext;
  await managementApi(event.requestContext).send(
    new PostToConnectionCommand({
      ConnectionId: connectionId,
      Data: 'Use the sendMessage route to send a message: {"action":"sendMessage","message":"hello"}',
    }),
  );
  return { statusCode: 200 };
}
