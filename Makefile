# The targets people expect. CI runs .ci/run, which runs `make test` and `make lint`.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s

.PHONY: build run test lint bench fuzz clean node-deps demo-js release image

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

# `make release`: static binaries (no cgo, -trimpath) of every platform in
# PLATFORMS, each in DIST/switchboard_<version>_<os>_<arch>/ with the
# LICENSE and README, and as a .tar.gz of that directory; SHA256SUMS lists
# the archives (check with `cd dist && sha256sum -c SHA256SUMS`). Without a
# tag, the version is dev-<short commit>. Decision 0033.
DIST ?= dist
PLATFORMS ?= linux/amd64 linux/arm64 darwin/arm64
RELEASE_VERSION = $(or $(VERSION),dev-$(shell git rev-parse --short HEAD 2>/dev/null))
RELEASE_LDFLAGS = -s -w -X $(BUILDINFO).version=$(RELEASE_VERSION) -X $(BUILDINFO).commit=$(COMMIT) -X $(BUILDINFO).date=$(DATE)
# The archives' files carry the commit's time, so that the same binaries
# give the same archives.
SOURCE_DATE_EPOCH ?= $(or $(shell git log -1 --format=%ct 2>/dev/null),0)
# `make image`: the FROM scratch container image of build/Containerfile,
# from the linux binaries of `make release`, with podman or buildah.
IMAGE ?= switchboard:$(RELEASE_VERSION)

# Flags for `make run`, such as ARGS="--config switchboard.yaml".
ARGS ?=

build:
	go build -ldflags "$(LDFLAGS)" -o bin/switchboard ./cmd/switchboard

run:
	go run -ldflags "$(LDFLAGS)" ./cmd/switchboard serve $(ARGS)

test: node-deps
	go test -race -count=1 -timeout 30m ./...

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

release:
	@rm -rf $(DIST)/switchboard_* $(DIST)/SHA256SUMS && mkdir -p $(DIST)
	@set -e; for p in $(PLATFORMS); do \
	  os=$${p%/*}; arch=$${p#*/}; name=switchboard_$(RELEASE_VERSION)_$${os}_$${arch}; \
	  echo "== $(DIST)/$$name.tar.gz"; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch go build -trimpath -ldflags "$(RELEASE_LDFLAGS)" \
	    -o $(DIST)/$$name/switchboard ./cmd/switchboard; \
	  cp LICENSE README.md $(DIST)/$$name/; \
	  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@$(SOURCE_DATE_EPOCH) \
	    -C $(DIST) -cf - $$name | gzip -n9 > $(DIST)/$$name.tar.gz; \
	done
	cd $(DIST) && sha256sum switchboard_*.tar.gz > SHA256SUMS

image:
	scripts/container-image.sh "$(DIST)/switchboard_$(RELEASE_VERSION)" "$(IMAGE)"

clean:
	rm -rf bin $(DIST)
