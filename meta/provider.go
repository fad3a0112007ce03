package meta

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/aiccfb/aicc"
)

// Provider is the aicc.GraphProvider of the running service: every Graph call is made by a Client that trusts
// the Facebook authentication certificates uploaded at the time of the call, so a certificate the sysadmin
// uploads takes effect on the next call, without a restart. The Client is built once per set of uploaded
// certificates and reused (with its connections) until that set changes. Set the fields before the first call.
type Provider struct {
	Certificates aicc.CertificateStore
	BaseURL      string // DefaultBaseURL when empty
	Version      string // DefaultVersion when empty
	// UploadedOnly trusts the uploaded certificates only, not the system roots (AICC_GRAPH_TRUST=uploaded-only).
	UploadedOnly bool
	Timeout      time.Duration // per attempt; DefaultTimeout when zero
	MaxRetries   int           // retries after a 5xx or a rate limit; DefaultMaxRetries when zero, none when negative

	mu     sync.Mutex
	key    string // the certificate set the client was built for
	client *Client
}

var _ aicc.GraphProvider = (*Provider)(nil)

// Graph implements aicc.GraphProvider. It reads the uploaded certificates on every call (one small query)
// and returns the cached client when they are the ones it was built for. With UploadedOnly and no certificate
// uploaded it fails with FACEBOOK_CERTIFICATE_MISSING, since no call could succeed.
func (p *Provider) Graph(ctx context.Context) (aicc.Graph, error) {
	certs, err := p.Certificates.ListCertificates(ctx)
	if err != nil {
		return nil, fmt.Errorf("meta: list certificates: %w", err)
	}
	key := certificateSetKey(certs)

	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client != nil && p.key == key {
		return p.client, nil
	}
	if p.UploadedOnly && len(certs) == 0 {
		return nil, aicc.Errorf(aicc.ECERTMISSING,
			"No Facebook authentication certificate is uploaded, and only uploaded certificates are trusted; a sysadmin must upload one.")
	}
	pems := make([][]byte, 0, len(certs))
	for _, c := range certs {
		pems = append(pems, []byte(c.PEM))
	}
	hc, err := NewHTTPClient(pems, p.UploadedOnly)
	if err != nil {
		return nil, err
	}
	if p.Timeout > 0 {
		hc.Timeout = p.Timeout
	}
	retries := p.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}
	if p.client != nil {
		// The old client's idle connections were made under the old trust; in-flight calls finish as they are.
		p.client.HTTP.CloseIdleConnections()
	}
	p.client = &Client{BaseURL: p.BaseURL, Version: p.Version, HTTP: hc, MaxRetries: retries}
	p.key = key
	return p.client, nil
}

// certificateSetKey identifies a set of certificates by their SHA-256 fingerprints, whatever their order.
func certificateSetKey(certs []*aicc.Certificate) string {
	sums := make([]string, 0, len(certs))
	for _, c := range certs {
		sums = append(sums, c.SHA256)
	}
	slices.Sort(sums)
	return strings.Join(slices.Compact(sums), ",")
}
