package ops_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aiccfb/aicc/internal/ops"
)

func listen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}

// get returns the body of GET url; it may run outside the test's goroutine.
func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return string(body), err
}

// TestServeShutsDownGracefully cancels Serve's context while a request is in flight: the request is answered,
// and Serve returns nil once it is.
func TestServeShutsDownGracefully(t *testing.T) {
	arrived, release := make(chan struct{}), make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
		_, _ = io.WriteString(w, "answered")
	})}
	ln := listen(t)
	logs := &bytes.Buffer{} // read once Serve has returned, after its last write
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- ops.Serve(ctx, "test", srv, ln, 5*time.Second, slog.New(slog.NewTextHandler(logs, nil)))
	}()

	type answer struct {
		body string
		err  error
	}
	answered := make(chan answer, 1)
	go func() {
		body, err := get(http.DefaultClient, "http://"+ln.Addr().String())
		answered <- answer{body, err}
	}()
	<-arrived
	cancel()
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	if got, want := <-answered, (answer{body: "answered"}); got != want {
		t.Errorf("in-flight request = %+v, want %+v", got, want)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
	for _, want := range []string{`msg="test listening" addr=` + ln.Addr().String(), `msg="test stopped"`} {
		if got := logs.String(); !strings.Contains(got, want) {
			t.Errorf("logs = %q, want %q in them", got, want)
		}
	}
}

// TestServeListensOnAddr serves srv.Addr when no listener is given, and says so when it cannot listen there.
func TestServeListensOnAddr(t *testing.T) {
	taken := listen(t)
	defer taken.Close()
	srv := &http.Server{Addr: taken.Addr().String(), Handler: http.NotFoundHandler()}
	err := ops.Serve(context.Background(), "test", srv, nil, time.Second, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "test: listen tcp ") {
		t.Errorf("Serve on a taken address = %v, want a listen error starting with the server's name", err)
	}
}

// TestStartServesTLS serves the TLS of srv.TLSConfig in the background until stop, which returns nil, twice.
func TestStartServesTLS(t *testing.T) {
	ts := httptest.NewTLSServer(nil) // for its certificate and a client that trusts it
	tlsConfig, client := ts.TLS.Clone(), ts.Client()
	ts.Close()

	ln := listen(t)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, strconv.FormatBool(r.TLS != nil))
		}),
		TLSConfig: tlsConfig,
	}
	stop := ops.Start("test", srv, ln, time.Second)
	if got, err := get(client, "https://"+ln.Addr().String()); err != nil || got != "true" {
		t.Errorf("GET = %q, %v; want TLS", got, err)
	}
	for i := range 2 {
		if err := stop(); err != nil {
			t.Errorf("stop %d = %v, want nil", i+1, err)
		}
	}
	if _, err := client.Get("https://" + ln.Addr().String()); err == nil {
		t.Error("the server still answers after stop")
	}
}

// TestServeReportsServeErrors returns at once what made the server fail.
func TestServeReportsServeErrors(t *testing.T) {
	ln := listen(t)
	ln.Close()
	err := ops.Serve(context.Background(), "test", &http.Server{Handler: http.NotFoundHandler()}, ln, time.Second, nil)
	if err == nil || !strings.HasPrefix(err.Error(), "test: ") || errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve on a closed listener = %v, want the server's failure", err)
	}
}
