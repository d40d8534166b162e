package coordinator

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nightshift-ml/nightshift/proto/rpc"
)

// The operator console (docs/architecture.md §9): a page served by every
// coordinator on http_addr under /ui/, its assets embedded in the binary
// (no build step, no registry), its data JSON read from this node's
// state (console_data.go), kept live over one Server-Sent-Events stream
// per page. When tokens are on, the console asks for one at a login form
// and keeps it in an HttpOnly cookie; every request checks it as the gRPC
// API checks a bearer token.

//go:embed console
var consoleAssets embed.FS

const (
	consoleCookie = "nightshift_token"
	// consoleTick is how often the event stream sends the page's data.
	consoleTick = time.Second
	// Login attempts per client address: a burst, then one per interval.
	loginBurst    = 5
	loginInterval = 10 * time.Second
)

// consoleRoutes registers the console on mux.
func (s *Server) consoleRoutes(mux *http.ServeMux) {
	assets, _ := fs.Sub(consoleAssets, "console")
	files := http.FileServer(http.FS(assets))
	limiter := &loginLimiter{seen: map[string]*loginBucket{}}
	mux.HandleFunc("GET /ui/login", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/login.html"
		files.ServeHTTP(w, r)
	})
	mux.HandleFunc("POST /ui/login", func(w http.ResponseWriter, r *http.Request) { s.consoleLogin(w, r, limiter) })
	mux.HandleFunc("POST /ui/logout", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: "", Path: "/ui", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	})
	mux.Handle("GET /ui/static/", s.consoleAuth(http.StripPrefix("/ui/static", files), false))
	mux.Handle("GET /ui/{$}", s.consoleAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = "/"
		files.ServeHTTP(w, r)
	}), false))
	mux.Handle("GET /ui/api/overview", s.consoleAuth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeConsoleJSON(w, s.consoleOverview(time.Now()))
	}), true))
	mux.Handle("GET /ui/api/jobs", s.consoleAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeConsoleJSON(w, s.consoleJobs(atoiOr(r.URL.Query().Get("page"), 1), r.URL.Query().Get("state"), time.Now()))
	}), true))
	s.consolePageRoutes(mux)
	mux.Handle("GET /ui/events", s.consoleAuth(http.HandlerFunc(s.consoleEvents), true))
	s.consoleActionRoutes(mux)
}

// consoleAuth lets a request through when tokens are off, or when its
// cookie holds a valid token of at least the read role; otherwise an API
// call gets 401 and a page the login form.
func (s *Server) consoleAuth(h http.Handler, api bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; style-src 'self'; script-src 'self'; img-src 'self' data:")
		if !s.tokensOn() {
			h.ServeHTTP(w, r)
			return
		}
		c, err := r.Cookie(consoleCookie)
		if err == nil {
			if _, err = s.checkBearer(rpc.BearerHeader(c.Value), "read", "the console"); err == nil {
				h.ServeHTTP(w, r)
				return
			}
		}
		if api {
			http.Error(w, "log in at /ui/login", http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	})
}

// consoleLogin checks a token from the login form and sets the cookie.
// Failures say only that the token was refused; attempts are rate
// limited per client address.
func (s *Server) consoleLogin(w http.ResponseWriter, r *http.Request, limiter *loginLimiter) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if !limiter.allow(host, time.Now()) {
		w.Header().Set("Retry-After", strconv.Itoa(int(loginInterval/time.Second)))
		http.Error(w, "too many login attempts; wait and try again", http.StatusTooManyRequests)
		return
	}
	token := strings.TrimSpace(r.PostFormValue("token"))
	if _, err := s.checkBearer(rpc.BearerHeader(token), "read", "the console"); err != nil {
		http.Error(w, "token refused", http.StatusUnauthorized)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: consoleCookie, Value: token, Path: "/ui", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: r.TLS != nil})
	http.Redirect(w, r, "/ui/", http.StatusSeeOther)
}

// consoleEvents streams the overview every consoleTick as Server-Sent
// Events until the client goes away, and the page the query names beside
// it (consolePage: ?job=ID, ?model=NAME, ?run=ID or ?schedule=NAME, with
// that page's own parameters), so an open page costs one stream.
func (s *Server) consoleEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	page := s.consolePageOf(r.URL.Query())
	tick := time.NewTicker(consoleTick)
	defer tick.Stop()
	for {
		now := time.Now()
		if err := sendEvent(w, "overview", s.consoleOverview(now)); err != nil {
			return
		}
		if page.name != "" {
			if v, ok := page.data(now); ok {
				if err := sendEvent(w, page.name, v); err != nil {
					return
				}
			}
		}
		flusher.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-s.stop:
			return
		case <-tick.C:
		}
	}
}

func sendEvent(w http.ResponseWriter, name string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, body)
	return err
}

func writeConsoleJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func atoiOr(s string, def int) int {
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	return def
}

// loginLimiter is a token bucket per client address.
type loginLimiter struct {
	mu   sync.Mutex
	seen map[string]*loginBucket
}

type loginBucket struct {
	tokens float64
	last   time.Time
}

func (l *loginLimiter) allow(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, ok := l.seen[addr]
	if !ok {
		if len(l.seen) > 10000 { // bounded: forget everyone rather than grow
			l.seen = map[string]*loginBucket{}
		}
		b = &loginBucket{tokens: loginBurst, last: now}
		l.seen[addr] = b
	}
	b.tokens = min(loginBurst, b.tokens+now.Sub(b.last).Seconds()/loginInterval.Seconds())
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
