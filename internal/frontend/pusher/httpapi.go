package pusher

import "net/http"

// serveAPI answers the Pusher HTTP API at /apps/{app_id}/... (reference
// §12). Being written (issue 11, point 4).
func (f *Frontend) serveAPI(w http.ResponseWriter, r *http.Request) {
	http.Error(w, "the Pusher HTTP API is not available in this build yet", http.StatusNotImplemented)
}
