# The targets people expect. CI runs .ci/run, which runs `make test` and `make lint`.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s

.PHONY: build run test lint bench fuzz clean node-deps demo-js

# The npm packages of examples/lambda-chat, for its end-to-end test (which
# skips, outside CI, when node or npm is missing).
LAMBDA_CHAT := examples/lambda-chat

# What `switchboard version` and the switchboard_build_info metric report:
# the tag (empty without one: the module version is used), the commit (with
# -dirty for uncommitted changes) and the build date. Override any of them:
# make build VERSION=v1.2.3
BUILDINFO := github.com/switchboardhq/switchboard/internal/buildinfo
VERSION ?= $(shell git describe --tags --dirty 2>/dev/null)
COMMIT ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD 2>/dev/null || echo -dirty)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -X $(BUILDINFO).version=$(VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)

# Flags for `make run`, such as ARGS="--config switchboard.yaml".
ARGS ?=

build:
	go build -ldflags "$(LDFLAGS)" -o bin/switchboard ./cmd/switchboard

run:
	go run -ldflags "$(LDFLAGS)" ./cmd/switchboard serve $(ARGS)

test: node-deps
	go test -race -count=1 ./...

node-deps:
	@if command -v npm >/dev/null; then \
	  test $(LAMBDA_CHAT)/node_modules/.package-lock.json -nt $(LAMBDA_CHAT)/package-lock.json 2>/dev/null || \
	  npm ci --prefix $(LAMBDA_CHAT) --no-audit --no-fund --loglevel=error; \
	else echo "npm not found: the lambda-chat end-to-end test will skip"; fi

# The demo page's copy of the TypeScript client's browser build, which the
# binary embeds (committed, so that `make run` needs no npm). Run it after
# changing clients/js/src; internal/jsclient TestDemoBundleFresh fails
# until the copy matches a fresh build.
demo-js:
	npm ci --prefix clients/js --no-audit --no-fund --loglevel=error
	npm run build --prefix clients/js
	cp clients/js/dist/browser/switchboard.min.js internal/server/demo/switchboard.min.js

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	@go mod tidy -diff >/dev/null || { echo "go.mod/go.sum not tidy (run go mod tidy):"; go mod tidy -diff; exit 1; }
	go vet ./...
	go run $(STATICCHECK) ./...

bench:
	go test -run '^$$' -bench . -benchtime 1s ./...

# Runs every fuzz target for FUZZTIME each (the committed corpora are
# replayed by `make test` too).
fuzz:
	@for pkg in $$(go list ./...); do \
	  for f in $$(go test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; go test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean:
	rm -rf bin
