package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/nightshift-ml/nightshift/storage"
)

// byteSize is a flag holding a byte count written as 1048576, 64MiB or 1GB.
type byteSize int64

func (b *byteSize) String() string { return strconv.FormatInt(int64(*b), 10) }
func (b *byteSize) Type() string   { return "bytes" }

func (b *byteSize) Set(s string) error {
	if strings.TrimSpace(s) == "-1" { // "never", where a flag allows it
		*b = -1
		return nil
	}
	n, err := parseBytes(s)
	if err != nil {
		return err
	}
	*b = byteSize(n)
	return nil
}

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
}

func parseBytes(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(strings.ToUpper(t), strings.ToUpper(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v < 0 {
		return 0, fmt.Errorf("%q is not a byte size (e.g. 134217728, 128MiB, 1GB)", s)
	}
	return int64(v * float64(mult)), nil
}

// storageFlags are the object-store settings every command that touches
// storage takes. Credentials come only from the environment, never flags,
// so they stay out of shell history and process listings.
type storageFlags struct {
	endpoint string
	region   string
	secure   bool
	fileRoot string
}

func addStorageFlags(cmd *cobra.Command, f *storageFlags) {
	env := storage.ConfigFromEnv()
	fl := cmd.Flags()
	fl.StringVar(&f.endpoint, "s3-endpoint", env.S3.Endpoint, "S3 endpoint host:port (env NIGHTSHIFT_S3_ENDPOINT)")
	fl.StringVar(&f.region, "s3-region", env.S3.Region, "S3 region (env AWS_REGION)")
	fl.BoolVar(&f.secure, "s3-tls", env.S3.Secure, "use HTTPS to reach S3 (env NIGHTSHIFT_S3_SECURE)")
	fl.StringVar(&f.fileRoot, "file-root", env.FileRoot, "confine file:// URIs to this directory (env NIGHTSHIFT_FILE_ROOT)")
}

// config turns the flags and the environment's credentials into a storage.Config.
func (f *storageFlags) config() storage.Config {
	c := storage.ConfigFromEnv()
	c.S3.Endpoint, c.S3.Region, c.S3.Secure, c.FileRoot = f.endpoint, f.region, f.secure, f.fileRoot
	return c
}
