// Command lambdago is a Lambda handler written for API Gateway WebSocket
// APIs with aws-lambda-go and the AWS SDK for Go v2, as one would deploy it
// to AWS (GOOS=linux go build -o bootstrap). The server tests build it and
// run it as a `function` integration with runtime provided. It lives
// outside testdata so that go mod tidy sees its imports.
//
// $connect accepts; a message is echoed to its sender with
// PostToConnection (endpoint from WEBSOCKET_ENDPOINT); $disconnect prints a
// line, which Switchboard logs with the request id.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/apigatewaymanagementapi"
)

func handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (events.APIGatewayProxyResponse, error) {
	rc := ev.RequestContext
	switch rc.RouteKey {
	case "$connect":
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	case "$disconnect":
		fmt.Printf("disconnected %s code %d\n", rc.ConnectionID, rc.DisconnectStatusCode)
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	if ev.Body == "crash" {
		os.Exit(3)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	client := apigatewaymanagementapi.NewFromConfig(cfg, func(o *apigatewaymanagementapi.Options) {
		o.BaseEndpoint = aws.String(os.Getenv("WEBSOCKET_ENDPOINT"))
	})
	_, err = client.PostToConnection(ctx, &apigatewaymanagementapi.PostToConnectionInput{
		ConnectionId: aws.String(rc.ConnectionID),
		Data:         []byte("echo: " + ev.Body),
	})
	if err != nil {
		return events.APIGatewayProxyResponse{}, err
	}
	return events.APIGatewayProxyResponse{StatusCode: 200}, nil
}

func main() { lambda.Start(handle) }
