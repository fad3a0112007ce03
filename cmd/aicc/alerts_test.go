package main

import (
	"cmp"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// alertsFile is deploy/prometheus/alerts.yml and moduleRoot the repository, relative to this package's
// directory.
const (
	alertsFile = "../../deploy/prometheus/alerts.yml"
	moduleRoot = "../.."
)

// metricDecl is an aicc_* metric the code declares: its label names, and whether it is a histogram or a
// summary, whose series carry the suffixes _bucket, _sum and _count.
type metricDecl struct {
	labels    []string
	histogram bool
}

// declaredMetrics reads the module's non-test Go files under root and returns the aicc_* metrics they declare
// (the Name of a prometheus.*Opts literal, with the label names of the New*Vec call it is passed to, and the
// name and labels of a prometheus.NewDesc), and every string literal of the code, where label values live.
func declaredMetrics(root string) (map[string]metricDecl, map[string]bool, error) {
	metrics, literals := map[string]metricDecl{}, map[string]bool{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.BasicLit:
				if s, ok := stringLit(n); ok {
					literals[s] = true
				}
			case *ast.CallExpr:
				name, decl, ok := metricCall(n)
				if ok && strings.HasPrefix(name, "aicc_") {
					metrics[name] = decl
				}
			}
			return true
		})
		return nil
	})
	return metrics, literals, err
}

// metricCall reads a call prometheus.NewDesc(name, help, labels, …) or prometheus.New*(opts[, labels]).
func metricCall(call *ast.CallExpr) (string, metricDecl, bool) {
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || len(call.Args) == 0 {
		return "", metricDecl{}, false
	}
	if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "prometheus" {
		return "", metricDecl{}, false
	}
	decl := metricDecl{histogram: strings.Contains(sel.Sel.Name, "Histogram") || strings.Contains(sel.Sel.Name, "Summary")}
	if sel.Sel.Name == "NewDesc" {
		lit, _ := call.Args[0].(*ast.BasicLit)
		name, ok := stringLit(lit)
		if len(call.Args) > 2 {
			decl.labels = stringList(call.Args[2])
		}
		return name, decl, ok
	}
	opts, ok := call.Args[0].(*ast.CompositeLit)
	if !ok {
		return "", metricDecl{}, false
	}
	for _, e := range opts.Elts {
		kv, ok := e.(*ast.KeyValueExpr)
		if key, isIdent := kv.Key.(*ast.Ident); ok && isIdent && key.Name == "Name" {
			lit, _ := kv.Value.(*ast.BasicLit)
			name, ok := stringLit(lit)
			if len(call.Args) > 1 {
				decl.labels = stringList(call.Args[1])
			}
			return name, decl, ok
		}
	}
	return "", metricDecl{}, false
}

// stringLit is the value of a string literal.
func stringLit(lit *ast.BasicLit) (string, bool) {
	if lit == nil || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// stringList is the values of a []string{"a", "b"} literal; nil for anything else.
func stringList(e ast.Expr) []string {
	lit, ok := e.(*ast.CompositeLit)
	if !ok {
		return nil
	}
	var out []string
	for _, el := range lit.Elts {
		b, _ := el.(*ast.BasicLit)
		if s, ok := stringLit(b); ok {
			out = append(out, s)
		}
	}
	return out
}

var (
	// metricRef is an aicc_* name in a rule, with its label matchers when it has some.
	metricRef = regexp.MustCompile(`(?:^|[^A-Za-z0-9_])(aicc_[a-z0-9_]+)(\{[^}]*\})?`)
	// matcherRef is one label matcher of a selector.
	matcherRef = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"`)
	// plainAlternatives is a matcher value that is one value or a|b|c of plain ones, checkable one by one.
	plainAlternatives = regexp.MustCompile(`^[A-Za-z0-9_:/.-]+(\|[A-Za-z0-9_:/.-]+)*$`)
)

// builtValues are label values the code builds rather than spells, by metric{label}: the status class of
// api/middleware.go.
var builtValues = map[string][]string{
	"aicc_http_requests_total{code}": {"1xx", "2xx", "3xx", "4xx", "5xx"},
}

// severities are the values of every alert's severity label.
var severities = []string{"critical", "warning", "info"}

// alertProblems returns what is wrong with a Prometheus rules file for aicc:
//   - an alert without a severity label of severities, or without a summary or description annotation;
//   - an aicc_* name in an expression or an annotation that is no metric the code declares (a histogram's
//     _bucket, _sum and _count series count as its own);
//   - a label matcher on such a metric with a label the metric does not have, or a value (or one of a|b|c)
//     that is no string literal of the code.
func alertProblems(doc []byte, metrics map[string]metricDecl, literals map[string]bool) ([]string, error) {
	var file struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(doc, &file); err != nil {
		return nil, err
	}
	var problems []string
	alerts := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			name := cmp.Or(r.Alert, g.Name+": a recording rule")
			if r.Alert != "" {
				alerts++
				if !slices.Contains(severities, r.Labels["severity"]) {
					problems = append(problems, fmt.Sprintf("%s: severity %q is not one of %v", name, r.Labels["severity"], severities))
				}
				for _, a := range []string{"summary", "description"} {
					if strings.TrimSpace(r.Annotations[a]) == "" {
						problems = append(problems, fmt.Sprintf("%s: no %s annotation", name, a))
					}
				}
			}
			texts := []string{r.Expr}
			for _, k := range sortedKeys(r.Annotations) {
				texts = append(texts, r.Annotations[k])
			}
			for _, text := range texts {
				for _, m := range metricRef.FindAllStringSubmatch(text, -1) {
					problems = append(problems, selectorProblems(name, m[1], m[2], metrics, literals)...)
				}
			}
		}
	}
	if alerts == 0 {
		problems = append(problems, "no alert at all")
	}
	return problems, nil
}

// selectorProblems checks one metric name of a rule and its label matchers (braces included, or "").
func selectorProblems(alert, metric, matchers string, metrics map[string]metricDecl, literals map[string]bool) []string {
	decl, ok := metrics[metric]
	if !ok {
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, cut := strings.CutSuffix(metric, suffix); cut && metrics[base].histogram {
				decl, ok = metrics[base], true
			}
		}
	}
	if !ok {
		return []string{fmt.Sprintf("%s: %s is no metric the code declares", alert, metric)}
	}
	var problems []string
	for _, m := range matcherRef.FindAllStringSubmatch(matchers, -1) {
		label, value := m[1], m[3]
		if !slices.Contains(decl.labels, label) && !slices.Contains([]string{"job", "instance", "le"}, label) {
			problems = append(problems, fmt.Sprintf("%s: %s has no label %s (it has %v)", alert, metric, label, decl.labels))
			continue
		}
		if !slices.Contains(decl.labels, label) || !plainAlternatives.MatchString(value) {
			continue
		}
		for _, v := range strings.Split(value, "|") {
			if !literals[v] && !slices.Contains(builtValues[metric+"{"+label+"}"], v) {
				problems = append(problems, fmt.Sprintf("%s: %s{%s} matches %q, which is no value in the code", alert, metric, label, v))
			}
		}
	}
	return problems
}

// Every alert has a severity and says what to do, and names only metrics, labels and label values the code
// has: a renamed metric or reason fails here rather than leaving an alert that never fires.
func TestAlertsFile(t *testing.T) {
	doc, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	metrics, literals, err := declaredMetrics(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"aicc_inbox_undelivered", "aicc_webhook_signature_rejections_total", "aicc_dispatched_events_total"} {
		if _, ok := metrics[want]; !ok {
			t.Fatalf("declaredMetrics found no %s: it reads the code wrong (found %v)", want, sortedKeys(metrics))
		}
	}
	problems, err := alertProblems(doc, metrics, literals)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Error(p)
	}
}

// The checks catch what they are for: each mutation of the real file is reported, and nothing else is.
func TestAlertsChecksCatchMistakes(t *testing.T) {
	doc, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	metrics, literals, err := declaredMetrics(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	mutations := map[string]struct{ old, new, want string }{
		"unknown metric": {"max(aicc_inbox_oldest_undelivered_seconds) > 5 * 60", "max(aicc_inbox_oldest_seconds) > 5 * 60",
			"AiccInboxBacklogAging: aicc_inbox_oldest_seconds is no metric"},
		"unknown label": {`aicc_pages{token_health="reauth_required"}`, `aicc_pages{health="reauth_required"}`,
			"AiccPageTokenReauthRequired: aicc_pages has no label health"},
		"unknown value": {`reason="other_algorithm"`, `reason="wrong_algorithm"`,
			`AiccWebhookSignatureMisconfigured: aicc_webhook_signature_rejections_total{reason} matches "wrong_algorithm"`},
		"no severity": {"severity: info\n        annotations:\n          summary: \"Unsigned",
			"severity: low\n        annotations:\n          summary: \"Unsigned", `AiccWebhookUnsigned: severity "low"`},
	}
	for name, m := range mutations {
		t.Run(name, func(t *testing.T) {
			mutated := strings.Replace(string(doc), m.old, m.new, 1)
			if mutated == string(doc) {
				t.Fatalf("the mutation does not apply: %q is not in the file", m.old)
			}
			problems, err := alertProblems([]byte(mutated), metrics, literals)
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) == 0 || slices.ContainsFunc(problems, func(p string) bool { return !strings.Contains(p, m.want) }) {
				t.Errorf("problems = %q, want only ones with %q", problems, m.want)
			}
		})
	}
}
