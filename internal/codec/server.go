package codec

import (
	"net/http"

	"go.temporal.io/sdk/converter"
)

// MaxRequestBytes bounds one request to the codec server: the payloads of one history page.
const MaxRequestBytes = 4 << 20

// Handler serves Temporal's remote codec protocol (POST …/encode and …/decode, as the Web UI's codec endpoint
// and the Temporal CLI's --codec-endpoint call it) to the callers authorize accepts; the others get a 401 and
// nothing of the payloads. With origin set (the Web UI's address), it answers the browser's CORS preflight and
// lets that origin read the answers.
func Handler(c *Codec, authorize func(r *http.Request) error, origin string) http.Handler {
	codec := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin != "" {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Credentials", "true")
			h.Set("Vary", "Origin")
			if r.Method == http.MethodOptions {
				h.Set("Access-Control-Allow-Methods", "POST")
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Namespace")
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if err := authorize(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="aicc codec"`)
			http.Error(w, "A sysadmin API token is required to encode or decode payloads.", http.StatusUnauthorized)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		codec.ServeHTTP(w, r)
	})
}
