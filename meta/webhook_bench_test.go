package meta_test

import (
	"strconv"
	"testing"

	"github.com/aiccfb/aicc/meta"
	"github.com/aiccfb/aicc/meta/metatest"
)

// benchBody is a notification of n items over up to 4 Pages, one entry per Page, as Meta batches them. With
// n = 3 it is what cmd/aicc-load sends: text messages to customers of random Pages. Larger bodies mix in the
// other kinds a busy Page receives (echoes, deliveries, reads, postbacks, reactions) and non-ASCII text in
// Meta's escaped form.
func benchBody(n int) []byte {
	pages := []string{"104000000000001", "104000000000002", "104000000000003", "104000000000004"}
	entries := make([]metatest.Entry, min(n, len(pages)))
	for i := range entries {
		entries[i].ID = pages[i]
	}
	const ts = 1_700_000_000_000
	for i := range n {
		page, customer := pages[i%len(entries)], "9"+strconv.Itoa(100_000_000_000_000+i*7919)
		mid := "m_load_bench_" + strconv.Itoa(i)
		var item metatest.Item
		switch i % 10 {
		case 3:
			item = metatest.Echo(page, customer, mid, "Danke, wir melden uns gleich.", ts+int64(i))
		case 5:
			item = metatest.Delivery(page, customer, ts+int64(i), mid)
		case 6:
			item = metatest.Read(page, customer, ts+int64(i))
		case 7:
			item = metatest.Postback(page, customer, mid, "Get Started", "GET_STARTED", ts+int64(i))
		case 9:
			item = metatest.Reaction(page, customer, mid, "❤", ts+int64(i))
		default:
			item = metatest.Text(page, customer, mid, "Grüße, order #"+strconv.Itoa(i)+" has not arrived 😀", ts+int64(i))
		}
		if n <= 3 {
			item = metatest.Text(page, customer, mid, "load message "+strconv.Itoa(i), ts+int64(i))
		}
		e := &entries[i%len(entries)]
		e.Messaging = append(e.Messaging, item)
		e.Time = max(e.Time, item.Timestamp)
	}
	return metatest.NewPayload(entries...).Encode()
}

// BenchmarkParseWebhook: the body decode alone.
func BenchmarkParseWebhook(b *testing.B) {
	for _, n := range []int{3, 100} {
		body := benchBody(n)
		b.Run("items="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := meta.ParseWebhook(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseEvents: what the webhook handler calls, the decode with the inbox rows and their dedup keys.
func BenchmarkParseEvents(b *testing.B) {
	for _, n := range []int{3, 100} {
		body := benchBody(n)
		b.Run("items="+strconv.Itoa(n), func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := (meta.Codec{}).ParseEvents(body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
