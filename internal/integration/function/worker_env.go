package function

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// reservedEnv are the Lambda runtime's variables: Switchboard (or, for
// _X_AMZN_TRACE_ID, the runtime client) sets them and Config.Environment
// may not. config.Validate rejects the same names.
var reservedEnv = []string{
	"_HANDLER",
	"_X_AMZN_TRACE_ID",
	"LAMBDA_TASK_ROOT",
	"LAMBDA_RUNTIME_DIR",
	"AWS_LAMBDA_RUNTIME_API",
	"AWS_LAMBDA_FUNCTION_NAME",
	"AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
	"AWS_LAMBDA_LOG_GROUP_NAME",
	"AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_LAMBDA_INITIALIZATION_TYPE",
	"AWS_EXECUTION_ENV",
}

// PassThroughEnv are the AWS credential and configuration variables that
// Config.Credentials environment copies from Switchboard's environment,
// when set, so that a handler reaches AWS with the operator's
// credentials: static keys, a profile and its files, container and
// instance roles, web identity. With the default, generated, none of them
// is copied.
var PassThroughEnv = []string{
	"AWS_ACCESS_KEY_ID",
	"AWS_SECRET_ACCESS_KEY",
	"AWS_SESSION_TOKEN",
	"AWS_SECURITY_TOKEN",
	"AWS_CREDENTIAL_EXPIRATION",
	"AWS_PROFILE",
	"AWS_DEFAULT_PROFILE",
	"AWS_CONFIG_FILE",
	"AWS_SHARED_CREDENTIALS_FILE",
	"AWS_SDK_LOAD_CONFIG",
	"AWS_CA_BUNDLE",
	"AWS_EC2_METADATA_DISABLED",
	"AWS_EC2_METADATA_SERVICE_ENDPOINT",
	"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
	"AWS_CONTAINER_CREDENTIALS_FULL_URI",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN",
	"AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	"AWS_WEB_IDENTITY_TOKEN_FILE",
	"AWS_ROLE_ARN",
	"AWS_ROLE_SESSION_NAME",
}

// alwaysPassedEnv are copied from Switchboard's environment, when set,
// whatever Config.Credentials says.
var alwaysPassedEnv = []string{"NODE_PATH"}

const defaultPath = "/usr/local/bin:/usr/bin:/bin"

// checkEnvironment validates Config.Environment.
func checkEnvironment(env map[string]string) error {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			return fmt.Errorf("%q is not a valid variable name", k)
		case strings.ContainsRune(env[k], 0):
			return fmt.Errorf("the value of %s contains NUL", k)
		case slices.Contains(reservedEnv, k):
			return fmt.Errorf("%s is set by the Lambda runtime and cannot be configured", k)
		}
	}
	return nil
}

// environment is what New learns from the configuration and Switchboard's
// environment; build turns it into a worker's environment.
type environment struct {
	cfg           Config
	path, home    string
	region        string
	defaultRegion string
	pass          [][2]string  // alwaysPassedEnv, and PassThroughEnv with CredentialsEnvironment
	creds         *Credentials // with CredentialsGenerated; nil: none
}

// newEnvironment reads what the workers' environment needs from lookup
// (Switchboard's environment). cfg.Credentials is already defaulted.
func newEnvironment(cfg Config, lookup func(string) (string, bool), creds *Credentials) *environment {
	get := func(k string) string { v, _ := lookup(k); return v }
	e := &environment{cfg: cfg, path: get("PATH"), home: get("HOME")}
	if e.path == "" {
		e.path = defaultPath
	}
	e.region = cfg.Environment["AWS_REGION"]
	if e.region == "" {
		e.region = get("AWS_REGION")
	}
	if e.region == "" {
		e.region = defaultRegion
	}
	e.defaultRegion = cfg.Environment["AWS_DEFAULT_REGION"]
	if e.defaultRegion == "" {
		e.defaultRegion = e.region
	}
	pass := alwaysPassedEnv
	if cfg.Credentials == CredentialsEnvironment {
		pass = append(slices.Clip(pass), PassThroughEnv...)
	} else {
		e.creds = creds
	}
	for _, k := range pass {
		if v, ok := lookup(k); ok {
			e.pass = append(e.pass, [2]string{k, v})
		}
	}
	return e
}

// logCredentials says, when the function is created, which AWS
// credentials its workers get: a warning when Switchboard's own are passed
// through (naming the variables, never their values), the access key id
// when they are generated.
func (e *environment) logCredentials(log *slog.Logger) {
	switch {
	case e.cfg.Credentials == CredentialsEnvironment:
		var names []string
		for _, kv := range e.pass {
			if slices.Contains(PassThroughEnv, kv[0]) {
				names = append(names, kv[0])
			}
		}
		log.Warn("function workers get Switchboard's own AWS credentials (function.credentials: environment): the handler can call AWS with them",
			slog.Any("passed", names), slog.String("home", e.home))
	case e.creds != nil:
		log.Info("function workers get generated AWS credentials, accepted by this stage's management API only (function.credentials: generated)",
			slog.String("accessKeyId", e.creds.AccessKeyID))
	default:
		log.Info("function workers get no AWS credentials (function.credentials: generated, none given)")
	}
}

// build returns the environment shared by f's workers, without
// AWS_LAMBDA_RUNTIME_API and AWS_LAMBDA_LOG_STREAM_NAME, which are per
// worker. Later entries win: Config.Environment overrides the defaults,
// the pass-through variables and the generated credentials, and the
// reserved variables come last.
func (e *environment) build(f *Function, executionEnv string) []string {
	home := e.home
	if home == "" {
		home = f.tmpDir
	}
	vars := [][2]string{
		{"PATH", e.path},
		{"LANG", "en_US.UTF-8"},
		{"TZ", ":UTC"},
		{"HOME", home},
		{"AWS_REGION", e.region},
		{"AWS_DEFAULT_REGION", e.defaultRegion},
	}
	vars = append(vars, e.pass...)
	if e.creds != nil {
		vars = append(vars,
			[2]string{"AWS_ACCESS_KEY_ID", e.creds.AccessKeyID},
			[2]string{"AWS_SECRET_ACCESS_KEY", e.creds.SecretAccessKey})
	}
	for _, k := range slices.Sorted(maps.Keys(e.cfg.Environment)) {
		vars = append(vars, [2]string{k, e.cfg.Environment[k]})
	}
	vars = append(vars,
		[2]string{"LAMBDA_TASK_ROOT", e.cfg.Directory},
		[2]string{"LAMBDA_RUNTIME_DIR", f.runtimeDir},
		[2]string{"_HANDLER", e.cfg.Handler},
		[2]string{"AWS_LAMBDA_FUNCTION_NAME", e.cfg.Name},
		[2]string{"AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"},
		[2]string{"AWS_LAMBDA_FUNCTION_MEMORY_SIZE", strconv.Itoa(e.cfg.Memory)},
		[2]string{"AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/" + e.cfg.Name},
		[2]string{"AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand"},
	)
	if executionEnv != "" {
		vars = append(vars, [2]string{"AWS_EXECUTION_ENV", executionEnv})
	}
	// Keep the last value of each name, in first-seen order.
	index := make(map[string]int, len(vars))
	var out []string
	for _, kv := range vars {
		s := kv[0] + "=" + kv[1]
		if i, ok := index[kv[0]]; ok {
			out[i] = s
			continue
		}
		index[kv[0]] = len(out)
		out = append(out, s)
	}
	return out
}

// executionEnv is AWS_EXECUTION_ENV for the function's runtime, from the
// interpreter's version: AWS_Lambda_nodejs20.x, AWS_Lambda_python3.12.
// None for provided, as on AWS.
func (f *Function) executionEnv() string {
	var prefix string
	switch f.cfg.Runtime {
	case RuntimeNodejs:
		prefix = "AWS_Lambda_nodejs"
	case RuntimePython:
		prefix = "AWS_Lambda_python"
	default:
		return ""
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, f.exe, "--version").Output()
	if err != nil {
		return prefix
	}
	return prefix + runtimeVersion(f.cfg.Runtime, string(out))
}

// runtimeVersion turns `node --version` ("v20.11.1") into "20.x" and
// `python3 --version` ("Python 3.12.1") into "3.12"; "" if unrecognized.
func runtimeVersion(runtime, out string) string {
	out = strings.TrimSpace(out)
	switch runtime {
	case RuntimeNodejs:
		major, _, _ := strings.Cut(strings.TrimPrefix(out, "v"), ".")
		if _, err := strconv.Atoi(major); err == nil {
			return major + ".x"
		}
	case RuntimePython:
		parts := strings.SplitN(strings.TrimPrefix(out, "Python "), ".", 3)
		if len(parts) >= 2 {
			if _, err := strconv.Atoi(parts[0]); err == nil {
				if _, err := strconv.Atoi(parts[1]); err == nil {
					return parts[0] + "." + parts[1]
				}
			}
		}
	}
	return ""
}

// lookPath finds an executable named name in the directories of path.
func lookPath(name, path string) (string, bool) {
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}
