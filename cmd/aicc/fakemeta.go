package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/internal/ops"
	"github.com/aiccfb/aicc/meta/metatest"
)

// The fake Meta of aicc dev --fake-meta. Its app and Page are fixed, so that the README walk-through can paste
// them; none of them is a secret of anything real.
const (
	FakeMetaAppID     = metatest.DefaultAppID // the app ID the fake reports in subscribed_apps
	FakeMetaAppSecret = "fake-meta-app-secret"
	FakeMetaPageID    = "1000000001"
	FakeMetaPageName  = "Fake Page"
	FakeMetaPageToken = "EAAFakePageToken1000000001"

	// Its TLS certificate and key, made on the first start and kept in the data directory, so that the
	// certificate uploaded on the first start stays the one the fake serves.
	devFakeMetaCert = "fake-meta-cert.pem"
	devFakeMetaKey  = "fake-meta-key.pem" // mode 0600
	// fakeMetaCertLifetime is the validity of a new certificate; one expiring within fakeMetaCertRenew is
	// replaced (and the new one uploaded).
	fakeMetaCertLifetime = 10 * 365 * 24 * time.Hour
	fakeMetaCertRenew    = 30 * 24 * time.Hour
)

// Echoes of sent messages: each is posted at most echoAttempts times, echoFirstRetry after the first failure,
// twice as long after each next one (some 4 s in all), each attempt for at most echoTimeout.
const (
	echoAttempts   = 5
	echoFirstRetry = 250 * time.Millisecond
	echoTimeout    = 5 * time.Second
)

// fakeMeta is a fake Graph API served over TLS on 127.0.0.1, in this process. Once echoTo has told it where,
// it echoes every message its Send API accepts as Meta does (see echoTo).
type fakeMeta struct {
	*metatest.Graph
	URL     string // https://127.0.0.1:PORT, for the Graph provider's BaseURL
	CertPEM []byte // its self-signed certificate, which no system trusts until it is uploaded

	logger *slog.Logger
	echo   atomic.Pointer[echoTarget] // nil until echoTo
	client *http.Client               // posts the echoes
	ctx    context.Context            // cancelled by Close: echoes on their way give up
	cancel context.CancelFunc

	mu      sync.Mutex     // guards closed and the Add of echoes
	closed  bool           // Close has begun: no new echo starts
	echoing sync.WaitGroup // the echoes on their way
	stop    func() error
}

// echoTarget is where the fake echoes what it sent: store finds the channel that owns a Page, and the
// channel's callback URL is publicURL/webhooks/facebook/{channel ID}.
type echoTarget struct {
	store     pageOwners
	publicURL string
}

// pageOwners is what pageChannel needs of the store.
type pageOwners interface {
	ListTenants(ctx context.Context, opt aicc.ListOptions) ([]*aicc.Tenant, string, error)
	ListChannels(ctx context.Context, tenantID string, f aicc.ChannelFilter) ([]*aicc.Channel, string, error)
	GetPage(ctx context.Context, tenantID, channelID, pageID string) (*aicc.Page, error)
}

// startFakeMeta starts the fake Graph on a free port of 127.0.0.1 with the certificate kept in dir, and adds
// the fixed fake Page to it.
func startFakeMeta(dir string, logger *slog.Logger) (*fakeMeta, error) {
	certPEM, keyPEM, err := ensureFakeMetaCert(filepath.Join(dir, devFakeMetaCert), filepath.Join(dir, devFakeMetaKey), time.Now())
	if err != nil {
		return nil, fmt.Errorf("fake meta certificate: %w", err)
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("fake meta certificate: %w", err)
	}
	g := metatest.NewGraph(FakeMetaAppSecret)
	g.AddPage(FakeMetaPageID, FakeMetaPageName, FakeMetaPageToken)
	logger = logger.With(slog.String("component", "fake-meta"))
	ctx, cancel := context.WithCancel(context.Background())
	f := &fakeMeta{
		Graph: g, CertPEM: certPEM, logger: logger, ctx: ctx, cancel: cancel,
		client: &http.Client{Timeout: echoTimeout},
	}
	g.OnSent = f.onSent // before the first request, as the Graph's fields must be

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("fake meta: %w", err)
	}
	srv := &http.Server{
		Handler:           g,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	f.URL = "https://" + ln.Addr().String()
	f.stop = ops.Start("fake meta", srv, ln, 2*time.Second)
	return f, nil
}

// Close stops the fake: its server, then the echoes still on their way.
func (f *fakeMeta) Close() error {
	err := f.stop()
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.echoing.Wait()
	return err
}

// echoTo makes the fake echo, from now on, every message its Send API accepts, as Meta does with an app
// subscribed to message_echoes: a webhook POST to the callback URL of the channel that owns the Page
// (publicURL/webhooks/facebook/{channel ID}, the channel found in store), whose item is the message with
// is_echo set, the Page as sender, the person as recipient and the mid the Send API answered, signed with the
// fake app's secret (both X-Hub-Signature-256 and X-Hub-Signature, as Meta signs). The POST runs on its own,
// without holding up the Send API's answer (so, as from Meta, it may come before that answer), and is retried
// a few times when it fails.
func (f *fakeMeta) echoTo(store pageOwners, publicURL string) {
	f.echo.Store(&echoTarget{store: store, publicURL: strings.TrimSuffix(publicURL, "/")})
}

// onSent is the Graph's OnSent: it starts the echo of m and returns at once.
func (f *fakeMeta) onSent(m metatest.SentMessage) {
	t := f.echo.Load()
	if t == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	f.echoing.Add(1)
	go func() {
		defer f.echoing.Done()
		f.postEcho(f.ctx, *t, m)
	}()
}

// postEcho posts the echo of m, trying again a few times while the channel cannot be found or the callback
// does not answer 200.
func (f *fakeMeta) postEcho(ctx context.Context, t echoTarget, m metatest.SentMessage) {
	body := metatest.NewPayload(metatest.NewEntry(m.PageID,
		metatest.EchoWithMetadata(m.PageID, m.RecipientID, m.MessageID, m.Text, m.Metadata, m.At.UnixMilli()))).Encode()
	delay := echoFirstRetry
	for attempt := 1; ; attempt++ {
		err := f.sendEcho(ctx, t, m.PageID, body)
		if err == nil {
			f.logger.Debug("echo delivered", slog.String("page_id", m.PageID), slog.String("message_id", m.MessageID))
			return
		}
		if attempt == echoAttempts || ctx.Err() != nil {
			f.logger.Warn("echo not delivered", slog.String("page_id", m.PageID), slog.String("message_id", m.MessageID),
				slog.Int("attempts", attempt), slog.String("error", err.Error()))
			return
		}
		select {
		case <-ctx.Done():
		case <-time.After(delay):
		}
		delay *= 2
	}
}

// sendEcho posts body once to the callback URL of the channel that owns the Page.
func (f *fakeMeta) sendEcho(ctx context.Context, t echoTarget, pageID string, body []byte) error {
	channelID, err := pageChannel(ctx, t.store, pageID)
	if err != nil {
		return err
	}
	sender := metatest.WebhookSender{
		URL: t.publicURL + "/webhooks/facebook/" + url.PathEscape(channelID), AppSecret: FakeMetaAppSecret, HTTP: f.client,
	}
	status, err := sender.Send(ctx, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("the callback URL of channel %s answered %d", channelID, status)
	}
	return nil
}

// pageChannel returns the ID of the channel that claimed the Page, whatever its tenant (a Page belongs to at
// most one channel in the whole system, the one that proved its token; others may hold its ID unproven);
// ENOTFOUND when there is none. The store looks Pages up by tenant and channel only, so this goes through
// every tenant's channels: a handful in aicc dev.
func pageChannel(ctx context.Context, store pageOwners, pageID string) (string, error) {
	topt := aicc.ListOptions{Limit: aicc.MaxListLimit}
	for {
		tenants, next, err := store.ListTenants(ctx, topt)
		if err != nil {
			return "", err
		}
		for _, tn := range tenants {
			f := aicc.ChannelFilter{ListOptions: aicc.ListOptions{Limit: aicc.MaxListLimit}}
			for {
				channels, cnext, err := store.ListChannels(ctx, tn.ID, f)
				if err != nil {
					return "", err
				}
				for _, ch := range channels {
					p, err := store.GetPage(ctx, tn.ID, ch.ID, pageID)
					if err == nil && !p.ClaimedAt.IsZero() {
						return ch.ID, nil
					}
					if err != nil && aicc.ErrorCode(err) != aicc.ENOTFOUND {
						return "", err
					}
				}
				if cnext == "" {
					break
				}
				f.Cursor = cnext
			}
		}
		if next == "" {
			return "", aicc.Errorf(aicc.ENOTFOUND, "No channel has the Page %s.", pageID)
		}
		topt.Cursor = next
	}
}

// uploadCertificateOnce uploads certPEM as a system certificate, as a sysadmin would with POST
// /v1/system/certificates, unless a certificate with its fingerprint is there already. It reports whether it
// uploaded.
func uploadCertificateOnce(ctx context.Context, store aicc.CertificateStore, certPEM []byte, now time.Time) (bool, error) {
	cert, err := aicc.ParseCertificatePEM(certPEM, now)
	if err != nil {
		return false, err
	}
	certs, err := store.ListCertificates(ctx)
	if err != nil {
		return false, err
	}
	for _, c := range certs {
		if c.SHA256 == cert.SHA256 {
			return false, nil
		}
	}
	cert.ID, cert.CreatedAt = aicc.NewID(aicc.PrefixCert), now.UTC().Truncate(time.Microsecond)
	if err := store.AddCertificate(ctx, cert); err != nil {
		return false, err
	}
	return true, nil
}

// ensureFakeMetaCert returns the fake's certificate and key from certPath and keyPath, or makes a new
// self-signed pair for 127.0.0.1 and localhost there when they are missing or about to expire.
func ensureFakeMetaCert(certPath, keyPath string, now time.Time) (certPEM, keyPEM []byte, err error) {
	certPEM, cerr := os.ReadFile(certPath)
	keyPEM, kerr := os.ReadFile(keyPath)
	switch {
	case cerr == nil && kerr == nil:
		if fakeMetaCertUsable(certPEM, keyPEM, now) {
			return certPEM, keyPEM, nil
		}
	case cerr != nil && !errors.Is(cerr, os.ErrNotExist):
		return nil, nil, cerr
	case kerr != nil && !errors.Is(kerr, os.ErrNotExist):
		return nil, nil, kerr
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "aicc dev fake Meta", Organization: []string{"aicc dev"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(fakeMetaCertLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// Self-signed and trusted as its own root once uploaded.
		IsCA: true, BasicConstraintsValid: true,
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:    []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
	// The key first: a certificate without its key would be kept on the next start and fail.
	if err := writeFileAtomic(keyPath, keyPEM, 0o600); err != nil {
		return nil, nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, 0o644); err != nil {
		return nil, nil, err
	}
	return certPEM, keyPEM, nil
}

// fakeMetaCertUsable reports whether the kept pair matches and stays valid for a while yet.
func fakeMetaCertUsable(certPEM, keyPEM []byte, now time.Time) bool {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	return err == nil && pair.Leaf != nil && now.Add(fakeMetaCertRenew).Before(pair.Leaf.NotAfter)
}
