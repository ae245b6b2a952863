// placeholder: replaced by the Node.js Runtime API client
