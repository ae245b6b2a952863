// Command handler is the Lambda function of the function integration's
// tests, built with aws-lambda-go. The MESSAGE body selects what it does:
// {"action": "echo" | "context" | "env" | "sleep" | "crash" | "error" |
// "panic" | "log" | "spawn" | "plain" | "null" | "big" | "pid", ...}.
// CONNECT and DISCONNECT events get {"statusCode": 200}.
//
// TEST_INIT_ERROR makes it report an init error to the Runtime API and
// exit 1; TEST_INIT_EXIT=n makes it exit with n before asking for work;
// TEST_INIT_SLEEP_MS delays its start.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambdacontext"
)

type command struct {
	Action  string `json:"action"`
	Ms      int    `json:"ms"`
	Code    int    `json:"code"`
	Message string `json:"message"`
	Text    string `json:"text"`
	Size    int    `json:"size"`
}

func handle(ctx context.Context, ev events.APIGatewayWebsocketProxyRequest) (any, error) {
	if ev.RequestContext.EventType != "MESSAGE" {
		return events.APIGatewayProxyResponse{StatusCode: 200}, nil
	}
	var c command
	if err := json.Unmarshal([]byte(ev.Body), &c); err != nil {
		return nil, fmt.Errorf("bad command %q: %v", ev.Body, err)
	}
	reply := func(v any) (any, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return events.APIGatewayProxyResponse{StatusCode: 200, Body: string(b)}, nil
	}
	switch c.Action {
	case "echo":
		return reply(map[string]any{
			"body":         ev.Body,
			"routeKey":     ev.RequestContext.RouteKey,
			"connectionId": ev.RequestContext.ConnectionID,
			"requestId":    ev.RequestContext.RequestID,
			"pid":          os.Getpid(),
		})
	case "context":
		lc, _ := lambdacontext.FromContext(ctx)
		deadline, _ := ctx.Deadline()
		return reply(map[string]any{
			"awsRequestId":       lc.AwsRequestID,
			"invokedFunctionArn": lc.InvokedFunctionArn,
			"deadlineMs":         deadline.UnixMilli(),
			"functionName":       lambdacontext.FunctionName,
			"functionVersion":    lambdacontext.FunctionVersion,
			"memoryLimitInMB":    lambdacontext.MemoryLimitInMB,
			"logGroupName":       lambdacontext.LogGroupName,
			"logStreamName":      lambdacontext.LogStreamName,
			"traceId":            ctx.Value("x-amzn-trace-id"),
		})
	case "env":
		env := map[string]string{}
		for _, kv := range os.Environ() {
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		wd, _ := os.Getwd()
		env["(cwd)"] = wd
		return reply(env)
	case "sleep":
		time.Sleep(time.Duration(c.Ms) * time.Millisecond)
		return reply(map[string]any{"slept": c.Ms, "pid": os.Getpid()})
	case "crash":
		os.Exit(c.Code)
	case "error":
		return nil, errors.New(c.Message)
	case "panic":
		panic(c.Message)
	case "log":
		lc, _ := lambdacontext.FromContext(ctx)
		fmt.Fprintf(os.Stdout, "out %s %s\n", c.Text, lc.AwsRequestID)
		fmt.Fprintf(os.Stderr, "err %s\n", c.Text)
		if c.Size > 0 {
			fmt.Fprintf(os.Stdout, "long %s\n", strings.Repeat("x", c.Size))
			fmt.Fprintf(os.Stdout, "after %s\n", c.Text)
		}
		return reply("logged")
	case "spawn":
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		return reply(map[string]int{"pid": os.Getpid(), "child": cmd.Process.Pid})
	case "plain":
		return c.Text, nil
	case "null":
		return nil, nil
	case "big":
		return strings.Repeat("b", c.Size), nil
	case "pid":
		return reply(map[string]int{"pid": os.Getpid()})
	}
	return nil, fmt.Errorf("unknown action %q", c.Action)
}

func main() {
	if ms, _ := strconv.Atoi(os.Getenv("TEST_INIT_SLEEP_MS")); ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	if code, err := strconv.Atoi(os.Getenv("TEST_INIT_EXIT")); err == nil {
		fmt.Fprintln(os.Stderr, "exiting during init")
		os.Exit(code)
	}
	if msg := os.Getenv("TEST_INIT_ERROR"); msg != "" {
		body, _ := json.Marshal(map[string]any{"errorMessage": msg, "errorType": "Runtime.TestInitError", "stackTrace": []string{}})
		resp, err := http.Post("http://"+os.Getenv("AWS_LAMBDA_RUNTIME_API")+"/2018-06-01/runtime/init/error", "application/json", bytes.NewReader(body))
		if err == nil {
			resp.Body.Close()
		}
		os.Exit(1)
	}
	lambda.Start(handle)
}
