package config

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// fixtureDir returns a directory for function integrations: it holds an
// executable "bootstrap" and "run.sh", a plain file "plain" and an empty
// directory "sub".
func fixtureDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, mode := range map[string]os.FileMode{"bootstrap": 0o755, "run.sh": 0o755, "plain": 0o644} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\nexit 0\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// The valid integrations of each new type that the tests below break.
func lambdaIntegration() Integration {
	return Integration{Type: "lambda", Lambda: Lambda{FunctionName: "chat-handler"}}
}

func nodejsIntegration(dir string) Integration {
	return Integration{Type: "function", Function: Function{Runtime: "nodejs", Directory: dir, Handler: "index.handler"}}
}

func providedIntegration(dir string) Integration {
	return Integration{Type: "function", Function: Function{Runtime: "provided", Directory: dir}}
}

// An integration maker builds the integration "backend" of validBase from
// the fixture directory.
type integrationMaker func(dir string) Integration

func httpWith(f func(*Integration)) integrationMaker {
	return func(string) Integration {
		in := Integration{Type: "http", URL: "http://localhost:3000/ws"}
		f(&in)
		return in
	}
}

func lambdaWith(f func(*Integration)) integrationMaker {
	return func(string) Integration {
		in := lambdaIntegration()
		f(&in)
		return in
	}
}

func nodejsWith(f func(*Integration)) integrationMaker {
	return func(dir string) Integration {
		in := nodejsIntegration(dir)
		f(&in)
		return in
	}
}

func providedWith(f func(*Integration)) integrationMaker {
	return func(dir string) Integration {
		in := providedIntegration(dir)
		f(&in)
		return in
	}
}

func pythonWith(f func(*Integration)) integrationMaker {
	return nodejsWith(func(in *Integration) {
		in.Function.Runtime = "python"
		in.Function.Handler = "app.handler"
		f(in)
	})
}

const ib = "apis[0].integrations.backend"

// TestValidateIntegrationTypes breaks one rule of the lambda and function
// integrations per case and expects exactly one problem, on the given
// field, whose message contains the fix.
func TestValidateIntegrationTypes(t *testing.T) {
	dir := fixtureDir(t)
	tests := []struct {
		name  string
		in    integrationMaker
		field string
		fix   string
	}{
		// type
		{"type unknown", httpWith(func(in *Integration) { in.Type = "lamda" }), ib + ".type", `"lamda" is not an integration type; use http, lambda or function (did you mean "lambda"?)`},
		{"type missing", httpWith(func(in *Integration) { in.Type = "" }), ib + ".type", "is required; use http, lambda or function"},

		// the blocks of the other types
		{"http with lambda", httpWith(func(in *Integration) { in.Lambda.Region = "us-east-1" }), ib + ".lambda", "is only for type lambda; remove it, or set type: lambda"},
		{"http with function", httpWith(func(in *Integration) { in.Function.Memory = 256 }), ib + ".function", "is only for type function; remove it, or set type: function"},
		{"http with function environment", httpWith(func(in *Integration) { in.Function.Environment = map[string]string{"A": "b"} }), ib + ".function", "is only for type function"},
		{"lambda with url", lambdaWith(func(in *Integration) { in.URL = "http://x" }), ib + ".url", "is only for type http; remove it (a lambda integration invokes lambda.functionName)"},
		{"lambda with headers", lambdaWith(func(in *Integration) { in.Headers = map[string]string{"X-A": "b"} }), ib + ".headers", "is only for type http; remove it"},
		{"lambda with function", lambdaWith(func(in *Integration) { in.Function.Runtime = "nodejs" }), ib + ".function", "is only for type function; remove it, or set type: function"},
		{"function with url", nodejsWith(func(in *Integration) { in.URL = "http://x" }), ib + ".url", "is only for type http; remove it (a function integration runs the code in function.directory)"},
		{"function with headers", nodejsWith(func(in *Integration) { in.Headers = map[string]string{"X A": "b"} }), ib + ".headers", "is only for type http; remove it"},
		{"function with lambda", nodejsWith(func(in *Integration) { in.Lambda.FunctionName = "x" }), ib + ".lambda", "is only for type lambda; remove it, or set type: lambda"},

		// lambda.functionName
		{"functionName missing", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "" }), ib + ".lambda.functionName",
			"is required for type lambda; write a function name (chat-handler), a partial ARN (123456789012:function:chat-handler) or a full ARN (arn:aws:lambda:us-east-1:123456789012:function:chat-handler), each optionally followed by :VERSION or :ALIAS"},
		{"functionName character", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "chat.handler" }), ib + ".lambda.functionName",
			`"chat.handler": the function name "chat.handler" contains '.'; a function name has only letters, digits, '-' and '_'`},
		{"functionName too long", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = strings.Repeat("f", 65) }), ib + ".lambda.functionName",
			"the function name is 65 characters long; a function name has at most 64"},
		{"functionName empty name in ARN", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:" }), ib + ".lambda.functionName",
			"the function name is empty"},
		{"functionName empty qualifier", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "chat:" }), ib + ".lambda.functionName",
			`"chat:" ends with a qualifier: "" is not a version or alias; write $LATEST, a version number such as 3, or an alias name`},
		{"functionName bad qualifier", lambdaWith(func(in *Integration) {
			in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:chat:v1.2"
		}), ib + ".lambda.functionName",
			`ends with a qualifier: "v1.2" is not a version or alias`},
		{"partial ARN account", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "12345:function:chat" }), ib + ".lambda.functionName",
			`"12345:function:chat" has the account "12345", which is not a 12-digit AWS account id; fix the ARN`},
		{"partial ARN resource", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "123456789012:layer:chat" }), ib + ".lambda.functionName",
			`"123456789012:layer:chat" is not a function name or ARN (ARNs name the resource type function before the name)`},
		{"too many colons", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "123456789012:function:chat:live:x" }), ib + ".lambda.functionName",
			`has too many ':' for a function name or ARN`},
		{"ARN too short", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:function:chat" }), ib + ".lambda.functionName",
			`"arn:aws:lambda:us-east-1:function:chat" is not a Lambda function ARN, which has the form arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER]`},
		{"ARN partition", lambdaWith(func(in *Integration) {
			in.Lambda.FunctionName = "arn:amazon:lambda:us-east-1:123456789012:function:chat"
		}), ib + ".lambda.functionName",
			`has the partition "amazon", which is not an AWS partition`},
		{"ARN service", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "arn:aws:sqs:us-east-1:123456789012:function:chat" }), ib + ".lambda.functionName",
			`is not a Lambda function ARN: its service is "sqs"; write arn:aws:lambda:REGION:ACCOUNT:function:NAME`},
		{"ARN region", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "arn:aws:lambda:US-EAST-1:123456789012:function:chat" }), ib + ".lambda.functionName",
			`has the region "US-EAST-1", which is not a region name such as us-east-1`},
		{"ARN account", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:1234567890123:function:chat" }), ib + ".lambda.functionName",
			`has the account "1234567890123", which is not a 12-digit AWS account id`},
		{"ARN resource", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:123456789012:layer:chat" }), ib + ".lambda.functionName",
			`is not a function name or ARN`},

		// lambda.qualifier
		{"qualifier character", lambdaWith(func(in *Integration) { in.Lambda.Qualifier = "v 1" }), ib + ".lambda.qualifier",
			`"v 1" is not a version or alias; write $LATEST, a version number such as 3, or an alias name (letters, digits, '-' and '_', at most 128 characters)`},
		{"qualifier $latest", lambdaWith(func(in *Integration) { in.Lambda.Qualifier = "$latest" }), ib + ".lambda.qualifier", `(did you mean "$LATEST"?)`},
		{"qualifier too long", lambdaWith(func(in *Integration) { in.Lambda.Qualifier = strings.Repeat("q", 129) }), ib + ".lambda.qualifier", "is not a version or alias"},
		{"qualifier conflicts with the name's", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "chat:3"; in.Lambda.Qualifier = "live" }), ib + ".lambda.qualifier",
			`"live" conflicts with the qualifier "3" at the end of functionName; keep only one of them`},
		{"qualifier conflicts with the ARN's", lambdaWith(func(in *Integration) {
			in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:chat:live"
			in.Lambda.Qualifier = "$LATEST"
		}), ib + ".lambda.qualifier", `"$LATEST" conflicts with the qualifier "live"`},

		// lambda.region
		{"region underscores", lambdaWith(func(in *Integration) { in.Lambda.Region = "us_east_1" }), ib + ".lambda.region",
			`"us_east_1" is not a region name; write one such as us-east-1, or leave region out`},
		{"region upper case", lambdaWith(func(in *Integration) { in.Lambda.Region = "US-EAST-1" }), ib + ".lambda.region", "is not a region name"},
		{"region empty part", lambdaWith(func(in *Integration) { in.Lambda.Region = "us--east-1" }), ib + ".lambda.region", "is not a region name"},
		{"region leading digit", lambdaWith(func(in *Integration) { in.Lambda.Region = "1-east" }), ib + ".lambda.region", "is not a region name"},
		{"region differs from the ARN's", lambdaWith(func(in *Integration) {
			in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:chat"
			in.Lambda.Region = "eu-west-1"
		}), ib + ".lambda.region", `"eu-west-1" is not the region of the ARN in functionName (us-east-1), where the function is; remove region (a full ARN carries its own) or fix one of them`},

		// lambda.endpoint
		{"endpoint unparsable", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "http://[::1" }), ib + ".lambda.endpoint", `"http://[::1" is not a URL`},
		{"endpoint without scheme", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "localhost:4566" }), ib + ".lambda.endpoint",
			`"localhost:4566" is not an http or https URL; write only the scheme, host and port of the Lambda-compatible server, e.g. http://localhost:4566`},
		{"endpoint without host", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "http://" }), ib + ".lambda.endpoint", `"http://" has no host`},
		{"endpoint with path", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "http://localhost:4566/2015-03-31/functions" }), ib + ".lambda.endpoint",
			`has a path, but the SDK adds the Lambda API's own; write "http://localhost:4566"`},
		{"endpoint with query", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "https://lambda.example.com?x=1" }), ib + ".lambda.endpoint",
			`has a query or fragment; write "https://lambda.example.com"`},
		{"endpoint with fragment", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "https://lambda.example.com/#x" }), ib + ".lambda.endpoint", "has a query or fragment"},
		{"endpoint with credentials", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "http://key:secret@localhost:4566" }), ib + ".lambda.endpoint",
			"has credentials in it; remove them"},

		// timeout and maxConcurrency keep the http bounds for lambda
		{"lambda timeout", lambdaWith(func(in *Integration) { in.Timeout = Duration(16 * time.Minute) }), ib + ".timeout", "16m is out of range; use a duration from 1ms to 15m"},
		{"lambda maxConcurrency", lambdaWith(func(in *Integration) { in.MaxConcurrency = 100001 }), ib + ".maxConcurrency", "use a number from 1 to 100000"},

		// function.runtime
		{"runtime missing", nodejsWith(func(in *Integration) { in.Function.Runtime = "" }), ib + ".function.runtime",
			"is required; use provided (an executable that speaks the Lambda Runtime API, such as a Go aws-lambda-go binary), nodejs or python"},
		{"runtime unknown", nodejsWith(func(in *Integration) { in.Function.Runtime = "node" }), ib + ".function.runtime",
			`"node" is not a function runtime; use provided, nodejs or python (did you mean "nodejs"?)`},
		{"runtime versioned", nodejsWith(func(in *Integration) { in.Function.Runtime = "python3.12"; in.Function.Handler = "app.handler" }), ib + ".function.runtime",
			`"python3.12" is not a function runtime`},

		// function.directory
		{"directory missing", nodejsWith(func(in *Integration) { in.Function.Directory = "" }), ib + ".function.directory",
			"is required; set the directory of the function's code, e.g. directory: ./chat (relative to the configuration file)"},
		{"directory does not exist", nodejsWith(func(in *Integration) { in.Function.Directory = filepath.Join(in.Function.Directory, "missing") }), ib + ".function.directory",
			filepath.Join(dir, "missing") + `" does not exist; create it or fix the path (a relative path is relative to the configuration file's directory)`},
		{"directory is a file", nodejsWith(func(in *Integration) { in.Function.Directory = filepath.Join(in.Function.Directory, "plain") }), ib + ".function.directory",
			filepath.Join(dir, "plain") + `" is not a directory; set the directory that holds the function's code`},

		// function.handler
		{"handler missing for nodejs", nodejsWith(func(in *Integration) { in.Function.Handler = "" }), ib + ".function.handler",
			"is required for runtime nodejs; write FILE.EXPORT, e.g. index.handler (the export handler of index.js or index.mjs)"},
		{"handler missing for python", pythonWith(func(in *Integration) { in.Function.Handler = "" }), ib + ".function.handler",
			"is required for runtime python; write FILE.FUNCTION, e.g. app.handler (the function handler of app.py)"},
		{"handler without dot", nodejsWith(func(in *Integration) { in.Function.Handler = "index" }), ib + ".function.handler",
			`"index" has no '.' between the file and the export name; write FILE.EXPORT, the file's path relative to function.directory without its extension, e.g. index.handler`},
		{"handler with extension", nodejsWith(func(in *Integration) { in.Function.Handler = "index.mjs.handler" }), ib + ".function.handler",
			`"index.mjs.handler" names the file with its extension (.mjs); write FILE.EXPORT`},
		{"handler without file", nodejsWith(func(in *Integration) { in.Function.Handler = "src/.handler" }), ib + ".function.handler", `"src/.handler" has no file name before the '.'`},
		{"handler without export", nodejsWith(func(in *Integration) { in.Function.Handler = "index." }), ib + ".function.handler", `"" is not a valid export name in "index."`},
		{"handler export starts with a digit", nodejsWith(func(in *Integration) { in.Function.Handler = "index.1st" }), ib + ".function.handler", `"1st" is not a valid export name in "index.1st"`},
		{"handler empty property", nodejsWith(func(in *Integration) { in.Function.Handler = "index.handlers." }), ib + ".function.handler", `"" is not a valid export name in "index.handlers."`},
		{"handler with ..", nodejsWith(func(in *Integration) { in.Function.Handler = "../shared/index.handler" }), ib + ".function.handler",
			`"../shared/index.handler" contains "..", which the runtime refuses`},
		{"handler with space", nodejsWith(func(in *Integration) { in.Function.Handler = "index. handler" }), ib + ".function.handler", "contains spaces or control characters"},
		{"python handler without dot", pythonWith(func(in *Integration) { in.Function.Handler = "app" }), ib + ".function.handler",
			`"app" has no '.' between the file and the function name; write FILE.FUNCTION, the file's path relative to function.directory without its extension, e.g. app.handler (the function handler of app.py)`},
		{"python handler with extension", pythonWith(func(in *Integration) { in.Function.Handler = "app.py.handler" }), ib + ".function.handler", `"app.py.handler" names the file with its extension (.py)`},
		{"python handler $", pythonWith(func(in *Integration) { in.Function.Handler = "app.$handler" }), ib + ".function.handler", `"$handler" is not a valid function name in "app.$handler"`},
		{"python handler absolute", pythonWith(func(in *Integration) { in.Function.Handler = "/var/task/app.handler" }), ib + ".function.handler",
			`"/var/task/app.handler" is an absolute path, which the python runtime cannot import`},
		{"python handler ./", pythonWith(func(in *Integration) { in.Function.Handler = "./app.handler" }), ib + ".function.handler", `"./app.handler" has an empty part in its module path "./app"`},
		{"python handler without module", pythonWith(func(in *Integration) { in.Function.Handler = ".handler" }), ib + ".function.handler", `".handler" has no file name before the '.'`},
		{"handler of provided with NUL", providedWith(func(in *Integration) { in.Function.Handler = "a\x00b" }), ib + ".function.handler", "contains a NUL byte"},

		// function.command and the executable of provided
		{"command for nodejs", nodejsWith(func(in *Integration) { in.Function.Command = []string{"node", "index.js"} }), ib + ".function.command",
			"is only for runtime provided; remove it (runtime nodejs runs Switchboard's own bootstrap, which loads handler)"},
		{"command empty program", providedWith(func(in *Integration) { in.Function.Command = []string{""} }), ib + ".function.command[0]", "is empty; remove it"},
		{"command empty argument", providedWith(func(in *Integration) { in.Function.Command = []string{"bootstrap", ""} }), ib + ".function.command[1]", "is empty"},
		{"command NUL", providedWith(func(in *Integration) { in.Function.Command = []string{"bootstrap", "a\x00"} }), ib + ".function.command[1]", "contains a NUL byte"},
		{"provided without bootstrap", providedWith(func(in *Integration) { in.Function.Directory = filepath.Join(in.Function.Directory, "sub") }), ib + ".function.directory",
			`/sub" has no "bootstrap", the executable that runtime provided runs; build or copy it there (a Go handler: go build -o bootstrap), or name another one with function.command`},
		{"command does not exist", providedWith(func(in *Integration) { in.Function.Command = []string{"server"} }), ib + ".function.command[0]",
			filepath.Join(dir, "server") + `" does not exist; write a path relative to function.directory or an absolute one (the program is not looked up in PATH)`},
		{"command absolute does not exist", providedWith(func(in *Integration) { in.Function.Command = []string{filepath.Join(dir, "sub", "server")} }), ib + ".function.command[0]",
			filepath.Join(dir, "sub", "server") + `" does not exist`},
		{"command is a directory", providedWith(func(in *Integration) { in.Function.Command = []string{"sub"} }), ib + ".function.command[0]", `/sub" is a directory; name the executable inside it`},

		// function.name, memory, environment, minWorkers, idleTimeout
		{"name character", nodejsWith(func(in *Integration) { in.Function.Name = "chat.bot" }), ib + ".function.name", `"chat.bot" contains '.'; use only letters, digits, '-' and '_'`},
		{"name too long", nodejsWith(func(in *Integration) { in.Function.Name = strings.Repeat("n", 65) }), ib + ".function.name", "is 65 characters long; shorten it to at most 64"},
		{"memory low", nodejsWith(func(in *Integration) { in.Function.Memory = 127 }), ib + ".function.memory", "127 is out of range; use a number from 128 to 10240"},
		{"memory high", nodejsWith(func(in *Integration) { in.Function.Memory = 10241 }), ib + ".function.memory", "use a number from 128 to 10240"},
		{"environment name", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"TABLE-NAME": "x"} }), ib + ".function.environment.TABLE-NAME",
			`"TABLE-NAME" is not a variable name; use letters, digits and '_', not starting with a digit, e.g. TABLE_NAME`},
		{"environment name digit", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"1X": "x"} }), ib + ".function.environment.1X", "is not a variable name"},
		{"environment name space", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"A B": "x"} }), ib + `.function.environment["A B"]`, "is not a variable name"},
		{"environment _HANDLER", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"_HANDLER": "x"} }), ib + ".function.environment._HANDLER",
			"_HANDLER is a reserved Lambda variable, which Switchboard sets from function.handler; set that instead and remove it here"},
		{"environment LAMBDA_TASK_ROOT", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"LAMBDA_TASK_ROOT": "/var/task"} }), ib + ".function.environment.LAMBDA_TASK_ROOT",
			"which Switchboard sets from function.directory"},
		{"environment AWS_LAMBDA_FUNCTION_NAME", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"AWS_LAMBDA_FUNCTION_NAME": "x"} }), ib + ".function.environment.AWS_LAMBDA_FUNCTION_NAME",
			"which Switchboard sets from function.name"},
		{"environment AWS_LAMBDA_FUNCTION_MEMORY_SIZE", nodejsWith(func(in *Integration) {
			in.Function.Environment = map[string]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512"}
		}), ib + ".function.environment.AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
			"which Switchboard sets from function.memory"},
		{"environment AWS_LAMBDA_RUNTIME_API", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"AWS_LAMBDA_RUNTIME_API": "x"} }), ib + ".function.environment.AWS_LAMBDA_RUNTIME_API",
			"AWS_LAMBDA_RUNTIME_API is a reserved Lambda variable, which Switchboard sets for every worker; remove it"},
		{"environment NUL", nodejsWith(func(in *Integration) { in.Function.Environment = map[string]string{"A": "a\x00"} }), ib + ".function.environment.A", "the value contains a NUL byte"},
		{"minWorkers above maxConcurrency", nodejsWith(func(in *Integration) { in.Function.MinWorkers = 5 }), ib + ".function.minWorkers",
			"5 is out of range; use a number from 0 to maxConcurrency (4), the most workers that run at once"},
		{"minWorkers above a set maxConcurrency", nodejsWith(func(in *Integration) { in.MaxConcurrency = 10; in.Function.MinWorkers = 11 }), ib + ".function.minWorkers", "use a number from 0 to maxConcurrency (10)"},
		{"minWorkers negative", nodejsWith(func(in *Integration) { in.Function.MinWorkers = -1 }), ib + ".function.minWorkers", "-1 is out of range"},
		{"idleTimeout low", nodejsWith(func(in *Integration) { in.Function.IdleTimeout = ms(500) }), ib + ".function.idleTimeout", "500ms is out of range; use a duration from 1s to 24h"},
		{"idleTimeout high", nodejsWith(func(in *Integration) { in.Function.IdleTimeout = Duration(25 * time.Hour) }), ib + ".function.idleTimeout", "from 1s to 24h"},
		{"credentials", nodejsWith(func(in *Integration) { in.Function.Credentials = "enviroment" }), ib + ".function.credentials",
			`"enviroment" is not a credentials mode (generated: a key pair for this stage's management API; environment: Switchboard's own AWS credentials); use generated or environment (did you mean "environment"?)`},

		// a function's timeout and maxConcurrency
		{"function timeout low", nodejsWith(func(in *Integration) { in.Timeout = ms(500) }), ib + ".timeout", "500ms is out of range; use a duration from 1s to 15m"},
		{"function timeout high", nodejsWith(func(in *Integration) { in.Timeout = Duration(16 * time.Minute) }), ib + ".timeout", "from 1s to 15m"},
		{"function maxConcurrency", nodejsWith(func(in *Integration) { in.MaxConcurrency = 1001 }), ib + ".maxConcurrency", "1001 is out of range; use a number from 1 to 1000"},
	}
	if runtime.GOOS != "windows" {
		tests = append(tests, struct {
			name  string
			in    integrationMaker
			field string
			fix   string
		}{"command not executable", providedWith(func(in *Integration) { in.Function.Command = []string{"plain"} }), ib + ".function.command[0]",
			filepath.Join(dir, "plain") + `" is not executable; make it so with chmod +x`})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			api(c).Integrations["backend"] = tt.in(dir)
			err := c.Validate()
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate() = %v, want a *ValidationError", err)
			}
			if len(ve.Problems) != 1 {
				t.Fatalf("want exactly one problem, got:\n%s", ve)
			}
			p := ve.Problems[0]
			if p.Field != tt.field || !strings.Contains(p.Message, tt.fix) {
				t.Errorf("got  %s: %s\nwant %s: ...%s...", p.Field, p.Message, tt.field, tt.fix)
			}
		})
	}
}

func TestValidateIntegrationTypesAccept(t *testing.T) {
	dir := fixtureDir(t)
	lambdaNamed := func(name string) integrationMaker {
		return lambdaWith(func(in *Integration) { in.Lambda.FunctionName = name })
	}
	tests := []struct {
		name string
		in   integrationMaker
	}{
		{"lambda name", lambdaNamed("chat-handler_2")},
		{"lambda name of 64", lambdaNamed(strings.Repeat("f", 64))},
		{"lambda name with version", lambdaNamed("chat:3")},
		{"lambda name with alias", lambdaNamed("chat:live")},
		{"lambda alias starting with a digit", lambdaNamed("chat:2024-prod")},
		{"lambda name with $LATEST", lambdaNamed("chat:$LATEST")},
		{"lambda partial ARN", lambdaNamed("123456789012:function:chat")},
		{"lambda partial ARN with alias", lambdaNamed("123456789012:function:chat:live")},
		{"lambda full ARN", lambdaNamed("arn:aws:lambda:us-east-1:123456789012:function:chat")},
		{"lambda full ARN with version", lambdaNamed("arn:aws:lambda:eu-central-2:123456789012:function:chat:17")},
		{"lambda China ARN", lambdaNamed("arn:aws-cn:lambda:cn-north-1:123456789012:function:chat")},
		{"lambda GovCloud ARN", lambdaNamed("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:chat")},
		{"lambda every field", lambdaWith(func(in *Integration) {
			in.Lambda = Lambda{FunctionName: "chat", Qualifier: "live", Region: "ap-southeast-4", Endpoint: "http://localhost:4566"}
			in.Timeout = Duration(15 * time.Minute)
			in.MaxConcurrency = 100000
		})},
		{"lambda qualifier $LATEST", lambdaWith(func(in *Integration) { in.Lambda.Qualifier = "$LATEST" })},
		{"lambda qualifier of 128", lambdaWith(func(in *Integration) { in.Lambda.Qualifier = strings.Repeat("q", 128) })},
		{"lambda same qualifier twice", lambdaWith(func(in *Integration) { in.Lambda.FunctionName = "chat:live"; in.Lambda.Qualifier = "live" })},
		{"lambda region of the ARN", lambdaWith(func(in *Integration) {
			in.Lambda.FunctionName = "arn:aws:lambda:us-east-1:123456789012:function:chat"
			in.Lambda.Region = "us-east-1"
		})},
		{"lambda region with a partial ARN", lambdaWith(func(in *Integration) {
			in.Lambda.FunctionName = "123456789012:function:chat"
			in.Lambda.Region = "eu-west-1"
		})},
		{"lambda endpoint with slash", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "https://lambda.example.com/" })},
		{"lambda endpoint IPv6", lambdaWith(func(in *Integration) { in.Lambda.Endpoint = "http://[::1]:9001" })},
		{"lambda with empty http blocks", lambdaWith(func(in *Integration) { in.Headers = map[string]string{} })},
		{"http with empty function lists", httpWith(func(in *Integration) {
			in.Function.Command = []string{}
			in.Function.Environment = map[string]string{}
		})},

		{"nodejs", nodejsWith(func(*Integration) {})},
		{"nodejs handler in a subdirectory", nodejsWith(func(in *Integration) { in.Function.Handler = "src/handlers/chat.handler" })},
		{"nodejs handler with ./", nodejsWith(func(in *Integration) { in.Function.Handler = "./index.handler" })},
		{"nodejs export with $", nodejsWith(func(in *Integration) { in.Function.Handler = "index.$handler_2" })},
		{"nodejs nested export", nodejsWith(func(in *Integration) { in.Function.Handler = "src/chat.handlers.connect" })},
		{"nodejs absolute module (a layer)", nodejsWith(func(in *Integration) { in.Function.Handler = "/opt/nodejs/index.handler" })},
		{"nodejs extensionless module", nodejsWith(func(in *Integration) { in.Function.Handler = "app-v2.handler" })},
		{"python", pythonWith(func(*Integration) {})},
		{"python handler in a package", pythonWith(func(in *Integration) { in.Function.Handler = "pkg/app.lambda_handler" })},
		{"python handler in a dotted package", pythonWith(func(in *Integration) { in.Function.Handler = "pkg.app.lambda_handler" })},
		{"provided", providedWith(func(*Integration) {})},
		{"provided with handler", providedWith(func(in *Integration) { in.Function.Handler = "anything goes: it is the program's" })},
		{"provided with command", providedWith(func(in *Integration) { in.Function.Command = []string{"run.sh", "--port", "8080"} })},
		{"provided with absolute command", providedWith(func(in *Integration) {
			in.Function.Command = []string{filepath.Join(in.Function.Directory, "run.sh")}
			in.Function.Directory = filepath.Join(in.Function.Directory, "sub")
		})},
		{"function every field", nodejsWith(func(in *Integration) {
			in.Timeout = Duration(15 * time.Minute)
			in.MaxConcurrency = 1000
			in.Function.Name = strings.Repeat("n", 64)
			in.Function.Memory = 10240
			in.Function.Environment = map[string]string{"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "_private": "", "TABLE_NAME": "chat"}
			in.Function.MinWorkers = 1000
			in.Function.IdleTimeout = Duration(24 * time.Hour)
		})},
		{"function timeout 1s", nodejsWith(func(in *Integration) { in.Timeout = sec(1) })},
		{"minWorkers equal to the default maxConcurrency", nodejsWith(func(in *Integration) { in.Function.MinWorkers = 4 })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := validBase()
			api(c).Integrations["backend"] = tt.in(dir)
			if err := c.Validate(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestValidateFunctionDefaultName checks that an integration whose name is
// not a valid function name is valid: its function.name default is made
// valid.
func TestValidateFunctionDefaultName(t *testing.T) {
	dir := fixtureDir(t)
	for _, name := range []string{"chat.bot", "bot é", strings.Repeat("b", 100)} {
		c := validBase()
		api(c).Integrations[name] = nodejsIntegration(dir)
		if err := c.Validate(); err != nil {
			t.Errorf("integration %q: %v", name, err)
		}
	}
}

// TestValidateAuthorizerOfEveryType checks that a namespace's authorizer
// may be an integration of any type.
func TestValidateAuthorizerOfEveryType(t *testing.T) {
	dir := fixtureDir(t)
	for _, in := range []Integration{lambdaIntegration(), nodejsIntegration(dir), providedIntegration(dir)} {
		c := validBase()
		api(c).Integrations["auth"] = in
		api(c).Channels.Namespaces = []Namespace{{Pattern: "*", Subscribe: "authorizer", Publish: "authorizer", Authorizer: "auth"}}
		if err := c.Validate(); err != nil {
			t.Errorf("authorizer of type %s: %v", in.Type, err)
		}
	}
}

// TestValidateFunctionProblemsTogether checks that independent problems of
// one function are all reported, and that a problem does not bring
// others that follow from it.
func TestValidateFunctionProblemsTogether(t *testing.T) {
	c := validBase()
	api(c).Integrations["backend"] = Integration{Type: "function", MaxConcurrency: 2000, Function: Function{
		Runtime:    "ruby",
		Directory:  filepath.Join(t.TempDir(), "missing"),
		Command:    []string{"bootstrap"},
		MinWorkers: 1500,
	}}
	err := c.Validate()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v", err)
	}
	var fields []string
	for _, p := range ve.Problems {
		fields = append(fields, p.Field)
	}
	want := []string{
		ib + ".function.runtime",   // not a runtime, so handler and command are not judged
		ib + ".function.directory", // does not exist, so no executable is looked for
		ib + ".function.minWorkers",
		ib + ".maxConcurrency",
	}
	if strings.Join(fields, "\n") != strings.Join(want, "\n") {
		t.Errorf("problems:\n%s\nwant fields %q", ve, want)
	}
}

func TestValidateDoesNotApplyFunctionDefaults(t *testing.T) {
	dir := fixtureDir(t)
	c := validBase()
	api(c).Integrations["backend"] = nodejsIntegration(dir)
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if f := api(c).Integrations["backend"].Function; f.Name != "" || f.Memory != 0 || f.IdleTimeout != 0 {
		t.Errorf("Validate applied function defaults to its receiver: %+v", f)
	}
}
