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
	"os"
	"path/filepath"
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

// fakeMeta is a fake Graph API served over TLS on 127.0.0.1, in this process.
type fakeMeta struct {
	*metatest.Graph
	URL     string // https://127.0.0.1:PORT, for the Graph provider's BaseURL
	CertPEM []byte // its self-signed certificate, which no system trusts until it is uploaded

	stop func() error
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

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fake meta: %w", err)
	}
	srv := &http.Server{
		Handler:           g,
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 5 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.With(slog.String("component", "fake-meta")).Handler(), slog.LevelWarn),
	}
	return &fakeMeta{
		Graph: g, URL: "https://" + ln.Addr().String(), CertPEM: certPEM,
		stop: ops.Start("fake meta", srv, ln, 2*time.Second),
	}, nil
}

// Close stops the fake.
func (f *fakeMeta) Close() error { return f.stop() }

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
