package aicc_test

import (
	"strings"
	"testing"
	"unicode"

	"github.com/aiccfb/aicc"
)

func TestMatchTransferKeyword(t *testing.T) {
	for _, tc := range []struct {
		name     string
		text     string
		keywords []string
		want     string
	}{
		{"exact", "agent", []string{"agent"}, "agent"},
		{"in a sentence", "I want an agent, please", []string{"agent"}, "agent"},
		{"case", "AGENT please", []string{"Agent"}, "Agent"},
		{"not a prefix of a word", "the agents are busy", []string{"agent"}, ""},
		{"not a suffix of a word", "a reagent", []string{"agent"}, ""},
		{"digits are word characters", "agent2", []string{"agent"}, ""},
		{"underscore is not", "agent_2", []string{"agent"}, "agent"},
		{"punctuation around", "(agent)!", []string{"agent"}, "agent"},
		{"first keyword in the list wins", "human or agent", []string{"agent", "human"}, "agent"},
		{"the keyword as configured", "i need an agent", []string{"  Agent "}, "  Agent "},
		{"empty keywords never match", "anything", []string{"", "   "}, ""},
		{"no keywords", "agent", nil, ""},
		{"empty text", "", []string{"agent"}, ""},
		{"phrase", "can I talk to a Human  Agent?", []string{"human agent"}, "human agent"},
		{"phrase across a line break", "human\n\tagent", []string{"human agent"}, "human agent"},
		{"phrase needs both words", "human beings", []string{"human agent"}, ""},
		{"phrase spaces collapse in the keyword", "human agent", []string{"human   agent"}, "human   agent"},
		{"a later occurrence is a whole word", "agents and an agent", []string{"agent"}, "agent"},
		{"overlapping candidates", "aaagent aagent", []string{"aagent"}, "aagent"},
		// Unicode simple folding: the Kelvin sign folds with k, long s with s, Greek sigma forms together.
		{"Kelvin sign", "\u212Aundendienst", []string{"kundendienst"}, "kundendienst"},
		{"long s", "ſupport", []string{"SUPPORT"}, "SUPPORT"},
		{"final sigma", "ΆΝΘΡΩΠΟΣ", []string{"άνθρωπος"}, "άνθρωπος"},
		{"Cyrillic", "Позовите ОПЕРАТОРА", []string{"оператора"}, "оператора"},
		{"Cyrillic not inside a word", "операторами", []string{"оператор"}, ""},
		{"ß is not ss (simple folding)", "strasse", []string{"straße"}, ""},
		{"accented letter", "Café", []string{"CAFÉ"}, "CAFÉ"},
		{"a combining mark continues the word", "cafe\u0301", []string{"cafe"}, ""},
		{"Arabic", "أريد موظف من فضلك", []string{"موظف"}, "موظف"},
		{"Hangul uses spaces", "상담원연결", []string{"상담원"}, ""},
		{"Hangul word", "상담원 연결", []string{"상담원"}, "상담원"},
		// Scripts written without spaces: substring matches.
		{"Han inside a sentence", "我要人工服务谢谢", []string{"人工"}, "人工"},
		{"Latin keyword after Han", "我要agent", []string{"agent"}, "agent"},
		{"Latin keyword before Han", "agent谢谢", []string{"agent"}, "agent"},
		{"Japanese", "オペレーターに繋いでください", []string{"オペレーター"}, "オペレーター"},
		{"Hiragana", "たんとうしゃをおねがい", []string{"たんとうしゃ"}, "たんとうしゃ"},
		{"Thai", "ขอคุยกับพนักงานครับ", []string{"พนักงาน"}, "พนักงาน"},
		{"fullwidth is not folded to ASCII", "ａｇｅｎｔ", []string{"agent"}, ""},
		{"invalid UTF-8 around", "\xffagent\xfe", []string{"agent"}, "agent"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := aicc.MatchTransferKeyword(tc.text, tc.keywords); got != tc.want {
				t.Errorf("MatchTransferKeyword(%q, %q) = %q, want %q", tc.text, tc.keywords, got, tc.want)
			}
		})
	}
}

// The longest text and the most and longest keywords a channel allows take little time: the search is linear.
func TestMatchTransferKeywordWorstCase(t *testing.T) {
	text := strings.Repeat("a", 100_000)
	keywords := make([]string, aicc.MaxTransferKeywords)
	for i := range keywords {
		keywords[i] = strings.Repeat("a", aicc.MaxTransferKeywordLen-1) + string(rune('b'+i))
	}
	if got := aicc.MatchTransferKeyword(text, keywords); got != "" {
		t.Fatalf("got %q", got)
	}
	allocs := testing.AllocsPerRun(10, func() { aicc.MatchTransferKeyword(text, keywords) })
	if allocs > 2*float64(len(keywords))+2 {
		t.Errorf("%v allocations, want at most two per keyword and the text's", allocs)
	}
}

func BenchmarkMatchTransferKeyword(b *testing.B) {
	text := strings.Repeat("Hello, I would like to ask about my order. ", 45) // ~2,000 characters
	keywords := make([]string, aicc.MaxTransferKeywords)
	for i := range keywords {
		keywords[i] = "keyword" + strings.Repeat("x", i)
	}
	for b.Loop() {
		aicc.MatchTransferKeyword(text, keywords)
	}
}

// FuzzMatchTransferKeyword checks that the match never panics, that it returns one of the keywords, and that on
// ASCII it agrees with a naive reference.
func FuzzMatchTransferKeyword(f *testing.F) {
	f.Add("I want an agent", "agent", "human agent")
	f.Add("human\t\tAGENT!", "human agent", "")
	f.Add("reagents", "agent", "agents")
	f.Add("我要人工", "人工", "agent")
	f.Add("\xff\xfe", "\xff", " ")
	f.Fuzz(func(t *testing.T, text, k1, k2 string) {
		keywords := []string{k1, k2}
		got := aicc.MatchTransferKeyword(text, keywords)
		if got != "" && got != k1 && got != k2 {
			t.Fatalf("returned %q, not a keyword", got)
		}
		if !isASCII(text) || !isASCII(k1) || !isASCII(k2) {
			return
		}
		if want := naiveMatch(text, keywords); got != want {
			t.Fatalf("MatchTransferKeyword(%q, %q) = %q, the reference says %q", text, keywords, got, want)
		}
	})
}

// naiveMatch is the ASCII reference: lower case, white space collapsed, every position tried.
func naiveMatch(text string, keywords []string) string {
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }
	word := func(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }
	t := norm(text)
	for _, k := range keywords {
		kw := norm(k)
		if kw == "" {
			continue
		}
		for i := 0; i+len(kw) <= len(t); i++ {
			if t[i:i+len(kw)] != kw {
				continue
			}
			j := i + len(kw)
			if (i == 0 || !word(t[i-1]) || !word(t[i])) && (j == len(t) || !word(t[j-1]) || !word(t[j])) {
				return k
			}
		}
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] > unicode.MaxASCII {
			return false
		}
	}
	return true
}
