package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	pb "github.com/nightshift-ml/nightshift/proto/nightshift/v1"
)

// UserAgent is sent with every request.
const UserAgent = "nightshift-alert/1"

// Defaults of Options.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultAttempts   = 5
	DefaultBackoff    = 500 * time.Millisecond
	DefaultMaxBackoff = 30 * time.Second
)

// rememberFinished bounds the record of finished (alert, webhook) pairs.
const rememberFinished = 4096

// Options tune a Sender; zero fields take the defaults.
type Options struct {
	// Timeout bounds one HTTP request, response included (DefaultTimeout).
	// Ignored when Client is set.
	Timeout time.Duration
	// Attempts is how many times one Deliver tries a webhook before giving
	// up on it for now (DefaultAttempts).
	Attempts int
	// Backoff is the wait after the first failed attempt; it doubles per
	// attempt up to MaxBackoff (DefaultBackoff).
	Backoff time.Duration
	// MaxBackoff caps the backoff and a server's Retry-After
	// (DefaultMaxBackoff).
	MaxBackoff time.Duration
	// Cluster names the cluster in payloads ("cluster" in JSON, the prefix
	// of Slack text).
	Cluster string
	// Logger receives delivery failures; nil discards them.
	Logger *slog.Logger
	// Client, when set, sends the requests instead of a client built from
	// Timeout that does not follow redirects.
	Client *http.Client
}

// Payload is the body of a "json" webhook.
type Payload struct {
	ID       string `json:"id"`
	Event    string `json:"event"`
	Schedule string `json:"schedule"`
	RunID    string `json:"run_id"`
	// Slot is the schedule slot (RFC 3339, UTC); omitted when the alert has
	// none.
	Slot    string `json:"slot,omitempty"`
	Message string `json:"message"`
	// Time is when the alert was raised (RFC 3339, UTC).
	Time    string `json:"time,omitempty"`
	Cluster string `json:"cluster"`
}

// Sender delivers alerts to a fixed list of webhooks. It is safe for
// concurrent use; build a new one when the webhook list changes.
type Sender struct {
	hooks  []hook
	opts   Options
	client *http.Client
	log    *slog.Logger

	mu       sync.Mutex
	finished map[finishedKey]struct{}
	order    []finishedKey // ring of finished keys, oldest at next
	next     int
}

type hook struct {
	Webhook
	index  int
	name   string // for logs and errors: index and host, never the path
	events map[string]bool
	err    error // Check's verdict; a broken hook is skipped, logged
}

type finishedKey struct {
	alert string
	hook  int
}

// NewSender returns a Sender for hooks. A webhook that fails Check is not
// sent to; each alert it would receive logs the reason instead.
func NewSender(hooks []Webhook, opts Options) *Sender {
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Attempts <= 0 {
		opts.Attempts = DefaultAttempts
	}
	if opts.Backoff <= 0 {
		opts.Backoff = DefaultBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = DefaultMaxBackoff
	}
	if opts.Backoff > opts.MaxBackoff {
		opts.Backoff = opts.MaxBackoff
	}
	s := &Sender{
		opts:     opts,
		client:   opts.Client,
		log:      opts.Logger,
		finished: make(map[finishedKey]struct{}),
	}
	if s.client == nil {
		s.client = &http.Client{
			Timeout: opts.Timeout,
			// A 301/302/303 would turn the POST into a GET; report the
			// redirect instead of following it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i, w := range hooks {
		h := hook{Webhook: w, index: i, err: w.Check()}
		h.name = fmt.Sprintf("webhooks[%d]", i)
		if u, err := url.Parse(w.URL); err == nil && u.Host != "" {
			h.name += " " + u.Host
		}
		if len(w.Events) > 0 {
			h.events = make(map[string]bool, len(w.Events))
			for _, e := range w.Events {
				h.events[e] = true
			}
		}
		if h.err != nil {
			s.log.Error("alert webhook misconfigured; it will receive nothing", "webhook", h.name, "err", h.err)
		}
		s.hooks = append(s.hooks, h)
	}
	return s
}

func (h *hook) wants(event string) bool {
	return h.events == nil || h.events[event]
}

// Deliver sends a to every webhook that wants its event, the webhooks in
// parallel, each with up to Options.Attempts tries. It returns nil when
// every such webhook accepted the alert (a 2xx answer) or failed
// permanently (any other answer but 429 and 5xx; logged); the caller may
// then acknowledge the alert. It returns an error when some webhook still
// failed after its attempts, or ctx ended first: the caller should keep
// the alert and call Deliver again later, which skips the webhooks that
// already accepted it (as long as this Sender remembers).
func (s *Sender) Deliver(ctx context.Context, a *pb.Alert) error {
	if a == nil {
		return errors.New("alert: nil alert")
	}
	var todo []*hook
	for i := range s.hooks {
		h := &s.hooks[i]
		if h.wants(a.Event) && !s.isFinished(a.Id, h.index) {
			todo = append(todo, h)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	var jsonBody, slackBody []byte
	for _, h := range todo {
		if h.Format == FormatSlack {
			if slackBody == nil {
				slackBody = s.slackBody(a)
			}
		} else if jsonBody == nil {
			jsonBody = s.jsonBody(a)
		}
	}
	errs := make([]error, len(todo))
	var wg sync.WaitGroup
	for i, h := range todo {
		body := jsonBody
		if h.Format == FormatSlack {
			body = slackBody
		}
		wg.Go(func() { errs[i] = s.deliverOne(ctx, h, a, body) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// deliverOne tries one webhook; nil when it accepted or failed for good.
func (s *Sender) deliverOne(ctx context.Context, h *hook, a *pb.Alert, body []byte) error {
	log := s.log.With("alert", a.Id, "event", a.Event, "webhook", h.name)
	if h.err != nil {
		log.Error("alert not sent: webhook misconfigured", "err", h.err)
		s.markFinished(a.Id, h.index)
		return nil
	}
	for attempt := 1; ; attempt++ {
		r := s.post(ctx, h, a, body)
		switch r.verdict {
		case accepted:
			log.Debug("alert delivered", "attempt", attempt, "status", r.status)
			s.markFinished(a.Id, h.index)
			return nil
		case permanent:
			log.Error("alert rejected by webhook; not retrying", "attempt", attempt, "status", r.status, "err", r.err)
			s.markFinished(a.Id, h.index)
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("alert %s: %s: %w (after %d attempts; last: %v)", a.Id, h.name, err, attempt, r.err)
		}
		if attempt >= s.opts.Attempts {
			log.Warn("alert delivery failed; will retry later", "attempts", attempt, "err", r.err)
			return fmt.Errorf("alert %s: %s: gave up after %d attempts: %w", a.Id, h.name, attempt, r.err)
		}
		wait := s.backoff(attempt)
		if r.hasRetryAfter {
			wait = min(r.retryAfter, s.opts.MaxBackoff)
		}
		log.Info("alert delivery failed; retrying", "attempt", attempt, "wait", wait, "err", r.err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("alert %s: %s: %w (after %d attempts; last: %v)", a.Id, h.name, ctx.Err(), attempt, r.err)
		case <-t.C:
		}
	}
}

// backoff is the wait after failed attempt n (1-based).
func (s *Sender) backoff(n int) time.Duration {
	d := s.opts.Backoff
	for i := 1; i < n && d < s.opts.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, s.opts.MaxBackoff)
}

type verdict int

const (
	retry verdict = iota
	accepted
	permanent
)

type result struct {
	verdict       verdict
	status        int
	err           error
	retryAfter    time.Duration
	hasRetryAfter bool
}

// post makes one attempt.
func (s *Sender) post(ctx context.Context, h *hook, a *pb.Alert, body []byte) result {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return result{verdict: permanent, err: fmt.Errorf("building request: %v", redact(err))}
	}
	req.Header.Set("User-Agent", UserAgent)
	for k, v := range h.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.Id != "" {
		req.Header.Set("Idempotency-Key", a.Id)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return result{verdict: retry, err: fmt.Errorf("POST %s: %w", h.name, redact(err))}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // let the connection be reused
	r := result{status: resp.StatusCode}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		r.verdict = accepted
		return r
	case code == http.StatusTooManyRequests || code >= 500:
		r.verdict = retry
		r.retryAfter, r.hasRetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	default:
		r.verdict = permanent
	}
	msg := resp.Status
	if code >= 300 && code < 400 {
		msg += " (redirects are not followed; set the final address as url)"
	}
	if t := strings.TrimSpace(strings.ToValidUTF8(string(snippet), "")); t != "" {
		msg += ": " + strings.Join(strings.Fields(t), " ")
	}
	r.err = errors.New(msg)
	return r
}

// redact drops the URL that *url.Error repeats: it may hold a secret.
func redact(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		if secs > int64(24*time.Hour/time.Second) {
			secs = int64(24 * time.Hour / time.Second)
		}
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

func (s *Sender) isFinished(id string, hook int) bool {
	if id == "" {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.finished[finishedKey{id, hook}]
	return ok
}

func (s *Sender) markFinished(id string, hook int) {
	if id == "" {
		return
	}
	k := finishedKey{id, hook}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.finished[k]; ok {
		return
	}
	if len(s.order) < rememberFinished {
		s.order = append(s.order, k)
	} else {
		delete(s.finished, s.order[s.next])
		s.order[s.next] = k
		s.next = (s.next + 1) % rememberFinished
	}
	s.finished[k] = struct{}{}
}

func formatMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

// NewPayload is the "json" body of a for cluster.
func NewPayload(a *pb.Alert, cluster string) Payload {
	p := Payload{
		ID:       a.Id,
		Event:    a.Event,
		Schedule: a.Schedule,
		RunID:    a.RunId,
		Message:  a.Message,
		Cluster:  cluster,
	}
	if a.SlotUnixMs != 0 {
		p.Slot = formatMs(a.SlotUnixMs)
	}
	if a.UnixMs != 0 {
		p.Time = formatMs(a.UnixMs)
	}
	return p
}

func (s *Sender) jsonBody(a *pb.Alert) []byte {
	b, err := json.Marshal(NewPayload(a, s.opts.Cluster))
	if err != nil { // strings only: cannot happen
		panic(err)
	}
	return b
}

// maxSlackText bounds the Slack line (Slack truncates far later).
const maxSlackText = 3000

// SlackText is the one-line text of a Slack webhook for a, e.g.
// "[nightshift] run_failed · schedule churn-nightly · slot
// 2026-12-04T02:00:00Z · run R: message". It is not yet escaped for Slack.
func SlackText(a *pb.Alert, cluster string) string {
	var b strings.Builder
	b.WriteString("[nightshift")
	if cluster != "" {
		b.WriteString(" ")
		b.WriteString(cluster)
	}
	b.WriteString("] ")
	b.WriteString(a.Event)
	if a.Schedule != "" {
		b.WriteString(" · schedule ")
		b.WriteString(a.Schedule)
	}
	if a.SlotUnixMs != 0 {
		b.WriteString(" · slot ")
		b.WriteString(formatMs(a.SlotUnixMs))
	}
	if a.RunId != "" {
		b.WriteString(" · run ")
		b.WriteString(a.RunId)
	}
	if m := strings.Join(strings.Fields(a.Message), " "); m != "" {
		b.WriteString(": ")
		b.WriteString(m)
	}
	t := b.String()
	if r := []rune(t); len(r) > maxSlackText {
		t = string(r[:maxSlackText-1]) + "…"
	}
	return t
}

// slackEscaper escapes the characters Slack's mrkdwn treats as control.
var slackEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func (s *Sender) slackBody(a *pb.Alert) []byte {
	b, err := json.Marshal(struct {
		Text string `json:"text"`
	}{slackEscaper.Replace(SlackText(a, s.opts.Cluster))})
	if err != nil {
		panic(err)
	}
	return b
}
