package alert

import (
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
)

// Events lists the alert events a webhook can subscribe to; pb.Alert.Event
// holds one of them.
var Events = []string{"run_failed", "slot_skipped", "slot_missed", "schedule_paused", "not_promoted", "model_decayed"}

// Formats of a webhook body.
const (
	FormatJSON  = "json"
	FormatSlack = "slack"
)

// Config is the `alerts:` section of the coordinator config file.
type Config struct {
	Webhooks []Webhook `yaml:"webhooks"`
}

// Check validates every webhook; messages name the field, e.g.
// "webhooks[1].url: ...".
func (c Config) Check() error {
	var errs []error
	for i, w := range c.Webhooks {
		if err := w.Check(); err != nil {
			errs = append(errs, fmt.Errorf("webhooks[%d].%w", i, err))
		}
	}
	return errors.Join(errs...)
}

// Webhook is one alert receiver.
type Webhook struct {
	// URL receives a POST per alert; http or https.
	URL string `yaml:"url"`
	// Format is "json" (default) or "slack".
	Format string `yaml:"format"`
	// Headers are added to every request (e.g. Authorization). They may not
	// set Content-Type, Content-Length, Host or Idempotency-Key.
	Headers map[string]string `yaml:"headers"`
	// Events filters the alerts sent (names from Events); empty means all.
	Events []string `yaml:"events"`
}

// reservedHeaders are set by the sender and may not be configured.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Idempotency-Key"}

// Check validates the webhook. The message starts with the field at fault
// ("url: ...", "format: ...", "headers: ...", "events[2]: ..."); it never
// repeats the URL's path or query, which may hold a secret token.
func (w Webhook) Check() error {
	if err := checkURL(w.URL); err != nil {
		return err
	}
	switch w.Format {
	case "", FormatJSON, FormatSlack:
	default:
		return fmt.Errorf("format: unknown format %q (want %q or %q)", w.Format, FormatJSON, FormatSlack)
	}
	names := make([]string, 0, len(w.Headers))
	for k := range w.Headers {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !validHeaderName(k) {
			return fmt.Errorf("headers: %q is not a valid header name", k)
		}
		for _, r := range reservedHeaders {
			if strings.EqualFold(k, r) {
				return fmt.Errorf("headers: %s is set by nightshift and cannot be configured", r)
			}
		}
		if strings.ContainsAny(w.Headers[k], "\r\n\x00") {
			return fmt.Errorf("headers: value of %s holds a line break or NUL", k)
		}
	}
	for i, e := range w.Events {
		if !knownEvent(e) {
			return fmt.Errorf("events[%d]: unknown event %q (want one of %s)", i, e, strings.Join(Events, ", "))
		}
	}
	return nil
}

func checkURL(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("url: required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the whole URL; keep only the reason.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("url: does not parse: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		if u.Scheme == "" {
			return errors.New("url: needs a scheme, http:// or https://")
		}
		return fmt.Errorf("url: scheme %q is not http or https", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return errors.New("url: has no host")
	}
	return nil
}

func knownEvent(e string) bool {
	for _, k := range Events {
		if e == k {
			return true
		}
	}
	return false
}

// validHeaderName reports whether s is an RFC 9110 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
