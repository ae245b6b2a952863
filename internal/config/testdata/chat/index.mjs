// The handler of the function example in docs/configuration.md
// (testdata/function.yaml). Validation only checks that this directory
// exists; the handler is never run.
export const handler = async (event) => {
  return { statusCode: 200 };
};
