# The targets people expect. CI runs .ci/run, which runs `make test` and `make lint`.
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s

.PHONY: build run test lint bench fuzz clean

build:
	go build -o bin/switchboard ./cmd/switchboard

run:
	go run ./cmd/switchboard serve

test:
	go test -race -count=1 ./...

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
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
