// Command switchboard is a self-hosted WebSocket gateway with the AWS API
// Gateway WebSocket model. See README.md.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/switchboardhq/switchboard/internal/cli"
)

func main() {
	err := cli.Run(context.Background(), os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		code = ee.Code
	}
	fmt.Fprintln(os.Stderr, "switchboard:", err)
	os.Exit(code)
}
