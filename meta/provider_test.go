package meta_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/aiccfb/aicc"
	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// certStore is an in-memory aicc.CertificateStore that counts its reads.
type certStore struct {
	mu    sync.Mutex
	certs []*aicc.Certificate
	reads int
	err   error
}

func (s *certStore) AddCertificate(_ context.Context, c *aicc.Certificate) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.certs = append(s.certs, c)
	return nil
}

func (s *certStore) ListCertificates(context.Context) ([]*aicc.Certificate, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reads++
	return append([]*aicc.Certificate(nil), s.certs...), s.err
}

// upload parses pemData as the API does and stores it.
func (s *certStore) upload(t *testing.T, pemData []byte) {
	t.Helper()
	c, err := aicc.ParseCertificatePEM(pemData, time.Now())
	require.NoError(t, err)
	c.ID, c.CreatedAt = aicc.NewID(aicc.PrefixCert), time.Now()
	require.NoError(t, s.AddCertificate(context.Background(), c))
}

func call() aicc.PageCall {
	return aicc.PageCall{PageID: pageID, AccessToken: canaryToken, AppSecret: canarySecret}
}

func TestProviderTrustsUploadedCertificateWithoutRestart(t *testing.T) {
	ctx := context.Background()
	srv := metatest.NewTLSGraphServer(t, canarySecret)
	srv.AddPage(pageID, pageName, canaryToken)
	store := &certStore{}
	p := &meta.Provider{Certificates: store, BaseURL: srv.URL, Timeout: 2 * time.Second, MaxRetries: -1}

	// Before the upload the fake's self-signed certificate is in no trust store.
	before, err := p.Graph(ctx)
	require.NoError(t, err)
	_, err = before.CheckPageToken(ctx, call())
	require.Error(t, err)
	assert.Equal(t, aicc.EMETAUNAVAILABLE, aicc.ErrorCode(err))
	var ge *aicc.GraphError
	require.True(t, errors.As(err, &ge))
	assert.Contains(t, ge.Message, "not trusted")
	assert.NotContains(t, err.Error(), canaryToken)
	assert.NotContains(t, err.Error(), canarySecret)

	// Nothing changed: the same client, connections and all.
	same, err := p.Graph(ctx)
	require.NoError(t, err)
	assert.Same(t, before, same)

	// The sysadmin uploads the certificate: the next call trusts it.
	store.upload(t, srv.CertPEM)
	after, err := p.Graph(ctx)
	require.NoError(t, err)
	assert.NotSame(t, before, after)
	info, err := after.CheckPageToken(ctx, call())
	require.NoError(t, err)
	assert.Equal(t, aicc.PageInfo{ID: pageID, Name: pageName}, info)
	again, err := p.Graph(ctx)
	require.NoError(t, err)
	assert.Same(t, after, again, "the client is rebuilt only when the certificates change")
	assert.Equal(t, 4, store.reads, "every Graph call reads the certificates")
}

func TestProviderUploadedOnly(t *testing.T) {
	ctx := context.Background()
	srv := metatest.NewTLSGraphServer(t, canarySecret)
	srv.AddPage(pageID, pageName, canaryToken)
	store := &certStore{}
	p := &meta.Provider{Certificates: store, BaseURL: srv.URL, UploadedOnly: true}

	_, err := p.Graph(ctx)
	assert.Equal(t, aicc.ECERTMISSING, aicc.ErrorCode(err), "err = %v", err)

	store.upload(t, srv.CertPEM)
	g, err := p.Graph(ctx)
	require.NoError(t, err)
	require.NoError(t, g.SubscribeApp(ctx, call()))
	assert.Equal(t, aicc.SubscribedFields, srv.Subscription(pageID))
}

func TestProviderSettings(t *testing.T) {
	ctx := context.Background()
	srv := metatest.NewTLSGraphServer(t, canarySecret)
	srv.AddPage(pageID, pageName, canaryToken)
	srv.SlowDelay = 3 * time.Second
	store := &certStore{}
	store.upload(t, srv.CertPEM)
	p := &meta.Provider{
		Certificates: store, BaseURL: srv.URL + "/", Version: "v24.0",
		Timeout: 200 * time.Millisecond, MaxRetries: -1,
	}
	g, err := p.Graph(ctx)
	require.NoError(t, err)

	_, err = g.CheckPageToken(ctx, call())
	require.NoError(t, err)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v24.0/me", reqs[0].Path)

	// The timeout is per attempt, and no retry follows with MaxRetries < 0.
	srv.FailNext(1, metatest.FailSlow)
	start := time.Now()
	_, err = g.CheckPageToken(ctx, call())
	assert.Equal(t, aicc.EMETAUNAVAILABLE, aicc.ErrorCode(err))
	assert.Less(t, time.Since(start), 2*time.Second)

	// MaxRetries zero means the default: two retries after a 500.
	p2 := &meta.Provider{Certificates: store, BaseURL: srv.URL}
	g2, err := p2.Graph(ctx)
	require.NoError(t, err)
	srv.FailNext(2, metatest.FailServerError)
	_, err = g2.CheckPageToken(ctx, call())
	require.NoError(t, err)
	assert.Equal(t, meta.DefaultMaxRetries, g2.(*meta.Client).MaxRetries)
}

func TestProviderStoreError(t *testing.T) {
	store := &certStore{err: errors.New("database is down")}
	_, err := (&meta.Provider{Certificates: store}).Graph(context.Background())
	require.Error(t, err)
	assert.True(t, strings.Contains(err.Error(), "database is down"))
}

func TestProviderConcurrentCalls(t *testing.T) {
	ctx := context.Background()
	srv := metatest.NewTLSGraphServer(t, canarySecret)
	store := &certStore{}
	store.upload(t, srv.CertPEM)
	p := &meta.Provider{Certificates: store, BaseURL: srv.URL}
	var wg sync.WaitGroup
	got := make([]aicc.Graph, 16)
	for i := range got {
		wg.Go(func() {
			g, err := p.Graph(ctx)
			assert.NoError(t, err)
			got[i] = g
		})
	}
	wg.Wait()
	for _, g := range got[1:] {
		assert.Same(t, got[0], g)
	}
}
