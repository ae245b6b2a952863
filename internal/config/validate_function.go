package config

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
	"unicode"
)

// functionRuntimes are the runtimes of a function integration, in the
// order the documentation lists them.
var functionRuntimes = []string{"provided", "nodejs", "python"}

// functionCredentials are the values of function.credentials.
var functionCredentials = []string{"generated", "environment"}

// reservedFunctionEnv are the variables of the standard Lambda environment
// that Switchboard sets for every worker and function.environment cannot
// set, each with the field that sets it instead, if there is one.
// AWS_REGION and AWS_DEFAULT_REGION are reserved on AWS but not here:
// Switchboard has no region of its own to give, so environment sets them.
var reservedFunctionEnv = map[string]string{
	"_HANDLER":                        "function.handler",
	"_X_AMZN_TRACE_ID":                "",
	"AWS_EXECUTION_ENV":               "",
	"AWS_LAMBDA_FUNCTION_NAME":        "function.name",
	"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "function.memory",
	"AWS_LAMBDA_FUNCTION_VERSION":     "",
	"AWS_LAMBDA_INITIALIZATION_TYPE":  "",
	"AWS_LAMBDA_LOG_GROUP_NAME":       "",
	"AWS_LAMBDA_LOG_STREAM_NAME":      "",
	"AWS_LAMBDA_RUNTIME_API":          "",
	"LAMBDA_TASK_ROOT":                "function.directory",
	"LAMBDA_RUNTIME_DIR":              "",
}

// Bounds of the function fields. Memory and timeout are AWS's.
const (
	minFunctionMemory      = 128
	maxFunctionMemory      = 10240
	maxFunctionConcurrency = 1000
	maxFunctionTimeout     = 15 * time.Minute
	maxFunctionIdleTimeout = 24 * time.Hour
	defaultBootstrap       = "bootstrap"
)

// function checks the function block of integration in (path is the
// integration's). It looks at the file system: function.directory must be
// a directory, and for runtime provided it must hold the executable.
func (v *validator) function(path string, in *Integration) {
	f := &in.Function
	fp := path + ".function"

	runtimeOK := false
	if f.Runtime == "" {
		v.add(fp+".runtime", "is required; use provided (an executable that speaks the Lambda Runtime API, such as a Go aws-lambda-go binary), nodejs or python")
	} else {
		runtimeOK = v.oneOf(fp+".runtime", f.Runtime, "a function runtime", functionRuntimes)
	}
	dirOK := v.functionDirectory(fp+".directory", f.Directory)

	switch {
	case !runtimeOK:
	case f.Runtime == "provided":
		if strings.ContainsRune(f.Handler, 0) {
			v.add(fp+".handler", "contains a NUL byte, which an environment variable (_HANDLER) cannot hold; remove it")
		}
	case f.Handler == "":
		v.add(fp+".handler", "is required for runtime %s; write FILE.%s, e.g. %s", f.Runtime, handlerExport[f.Runtime], handlerExample[f.Runtime])
	default:
		if msg := checkHandler(f.Runtime, f.Handler); msg != "" {
			v.add(fp+".handler", "%s", msg)
		}
	}

	commandOK := len(f.Command) > 0
	if commandOK && runtimeOK && f.Runtime != "provided" {
		v.add(fp+".command", "is only for runtime provided; remove it (runtime %s runs Switchboard's own bootstrap, which loads handler)", f.Runtime)
		commandOK = false
	}
	for i, arg := range f.Command {
		switch {
		case arg == "":
			v.add(joinIndex(fp+".command", i), "is empty; remove it, or write the program (first) or the argument")
			commandOK = commandOK && i > 0
		case strings.ContainsRune(arg, 0):
			v.add(joinIndex(fp+".command", i), "contains a NUL byte, which a command line cannot hold; remove it")
			commandOK = commandOK && i > 0
		}
	}
	if runtimeOK && f.Runtime == "provided" && dirOK && (commandOK || len(f.Command) == 0) {
		v.bootstrap(fp, f)
	}

	if f.Name != "" { // empty only for an empty integration name, reported above
		v.name(fp+".name", f.Name, maxFunctionNameLen, "the function's name, e.g. name: chat-handler")
	}
	v.intRange(fp+".memory", f.Memory, minFunctionMemory, maxFunctionMemory)
	v.environment(fp+".environment", f.Environment)

	if in.MaxConcurrency >= 1 && in.MaxConcurrency <= maxFunctionConcurrency {
		if f.MinWorkers < 0 || f.MinWorkers > in.MaxConcurrency {
			v.add(fp+".minWorkers", "%d is out of range; use a number from 0 to maxConcurrency (%d), the most workers that run at once", f.MinWorkers, in.MaxConcurrency)
		}
	} else {
		v.intRange(fp+".minWorkers", f.MinWorkers, 0, maxFunctionConcurrency)
	}
	v.duration(fp+".idleTimeout", f.IdleTimeout, time.Second, maxFunctionIdleTimeout)
	if f.Credentials != "" {
		v.oneOf(fp+".credentials", f.Credentials, "a credentials mode (generated: a key pair for this stage's management API; environment: Switchboard's own AWS credentials)", functionCredentials)
	}
}

// functionDirectory checks that dir names an existing directory and
// reports whether it does. Load has made a relative dir relative to the
// configuration file's directory (and absolute); otherwise it is relative
// to the working directory.
func (v *validator) functionDirectory(field, dir string) bool {
	if dir == "" {
		v.add(field, "is required; set the directory of the function's code, e.g. directory: ./chat (relative to the configuration file)")
		return false
	}
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		v.add(field, "%q does not exist; create it or fix the path (a relative path is relative to the configuration file's directory)", dir)
	case err != nil:
		v.add(field, "%q cannot be read (%v); fix the path or its permissions", dir, unwrapPathError(err))
	case !fi.IsDir():
		v.add(field, "%q is not a directory; set the directory that holds the function's code", dir)
	default:
		return true
	}
	return false
}

// bootstrap checks that the executable of a provided runtime, command[0]
// or "bootstrap", exists in f.Directory (or at its absolute path) and is
// executable. f.Directory is an existing directory.
func (v *validator) bootstrap(fp string, f *Function) {
	field, exe := fp+".directory", defaultBootstrap
	if len(f.Command) > 0 {
		field, exe = joinIndex(fp+".command", 0), f.Command[0]
	}
	p := exe
	if !filepath.IsAbs(p) {
		p = filepath.Join(f.Directory, p)
	}
	fi, err := os.Stat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist) && len(f.Command) == 0:
		v.add(field, "%q has no %q, the executable that runtime provided runs; build or copy it there (a Go handler: go build -o bootstrap), or name another one with function.command", f.Directory, defaultBootstrap)
	case errors.Is(err, fs.ErrNotExist):
		v.add(field, "%q does not exist; write a path relative to function.directory or an absolute one (the program is not looked up in PATH)", p)
	case err != nil:
		v.add(field, "%q cannot be read (%v); fix the path or its permissions", p, unwrapPathError(err))
	case fi.IsDir():
		v.add(field, "%q is a directory; name the executable inside it", p)
	case runtime.GOOS != "windows" && fi.Mode().Perm()&0o111 == 0:
		v.add(field, "%q is not executable; make it so with chmod +x", p)
	}
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// What a handler names, per runtime, for the messages.
var (
	handlerExport  = map[string]string{"nodejs": "EXPORT", "python": "FUNCTION"}
	handlerExample = map[string]string{
		"nodejs": "index.handler (the export handler of index.js or index.mjs)",
		"python": "app.handler (the function handler of app.py)",
	}
)

// checkHandler returns what is wrong with the handler of a nodejs or
// python function, or "". The rules are the AWS runtimes' (and, for
// nodejs, Switchboard's bootstrap's):
//
//   - nodejs: [PATH/]FILE.EXPORT[.PROPERTY...]. The module is what lies
//     between the last '/' and the first '.' after it, relative to the
//     function's directory or absolute; the rest is a property path into
//     its exports (index.handler, src/chat.handlers.connect).
//   - python: MODULE.FUNCTION, split at the last '.'; the module is a
//     path relative to the function's directory with '/' or '.' between
//     its parts (app.handler, pkg/app.handler, pkg.app.handler).
//
// Neither may contain "..", and the file is named without its extension.
func checkHandler(rt, h string) string {
	fix := fmt.Sprintf("write FILE.%s, the file's path relative to function.directory without its extension, e.g. %s", handlerExport[rt], handlerExample[rt])
	if strings.IndexFunc(h, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return fmt.Sprintf("%q contains spaces or control characters; %s", h, fix)
	}
	if strings.Contains(h, "..") {
		return fmt.Sprintf("%q contains \"..\", which the runtime refuses; %s", h, fix)
	}
	what := strings.ToLower(handlerExport[rt])
	if rt == "nodejs" {
		_, base := path.Split(h)
		module, props, found := strings.Cut(base, ".")
		switch {
		case !found:
			return fmt.Sprintf("%q has no '.' between the file and the %s name; %s", h, what, fix)
		case module == "":
			return fmt.Sprintf("%q has no file name before the '.'; %s", h, fix)
		}
		names := strings.Split(props, ".")
		if len(names) > 1 && slices.Contains([]string{"js", "mjs", "cjs"}, names[0]) {
			return fmt.Sprintf("%q names the file with its extension (.%s); %s", h, names[0], fix)
		}
		for _, n := range names {
			if !validIdentifier(rt, n) {
				return fmt.Sprintf("%q is not a valid %s name in %q; %s", n, what, h, fix)
			}
		}
		return ""
	}
	if strings.HasPrefix(h, "/") {
		return fmt.Sprintf("%q is an absolute path, which the python runtime cannot import; %s", h, fix)
	}
	i := strings.LastIndexByte(h, '.')
	if i < 0 {
		return fmt.Sprintf("%q has no '.' between the file and the %s name; %s", h, what, fix)
	}
	module, name := h[:i], h[i+1:]
	parts := strings.FieldsFunc(module, func(r rune) bool { return r == '/' || r == '.' })
	switch {
	case module == "":
		return fmt.Sprintf("%q has no file name before the '.'; %s", h, fix)
	case len(parts) != strings.Count(module, "/")+strings.Count(module, ".")+1:
		return fmt.Sprintf("%q has an empty part in its module path %q; %s", h, module, fix)
	case len(parts) > 1 && parts[len(parts)-1] == "py":
		return fmt.Sprintf("%q names the file with its extension (.py); %s", h, fix)
	case !validIdentifier(rt, name):
		return fmt.Sprintf("%q is not a valid %s name in %q; %s", name, what, h, fix)
	}
	return ""
}

// validIdentifier reports whether s is an ASCII identifier of the
// runtime's language: letters, digits and '_' (and '$' in JavaScript), not
// starting with a digit.
func validIdentifier(rt, s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '$' && rt == "nodejs") {
			return false
		}
	}
	return true
}

// environment checks function.environment: names are [A-Za-z_][A-Za-z0-9_]*
// and not reserved, values hold no NUL.
func (v *validator) environment(path string, env map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(env)) {
		field := joinKey(path, k)
		instead, reserved := reservedFunctionEnv[k]
		switch {
		case !validEnvName(k):
			v.add(field, "%q is not a variable name; use letters, digits and '_', not starting with a digit, e.g. TABLE_NAME", k)
		case reserved && instead != "":
			v.add(field, "%s is a reserved Lambda variable, which Switchboard sets from %s; set that instead and remove it here", k, instead)
		case reserved:
			v.add(field, "%s is a reserved Lambda variable, which Switchboard sets for every worker; remove it", k)
		}
		if strings.ContainsRune(env[k], 0) {
			v.add(field, "the value contains a NUL byte, which an environment variable cannot hold; remove it")
		}
	}
}

// validEnvName reports whether s matches [A-Za-z_][A-Za-z0-9_]*.
func validEnvName(s string) bool {
	return validIdentifier("python", s)
}
