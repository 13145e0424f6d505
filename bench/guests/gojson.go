// gojson: a Go program for GOOS=js GOARCH=wasm whose binary (several MB, most of it the Go
// runtime and standard library) is what the bench's `compile-large` row compiles. It is only
// compiled, never run, by the bench; it is still a real program: it round-trips a document
// through encoding/json, sorts and formats it, hashes it and searches it with regexp.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

type Item struct {
	Name  string   `json:"name"`
	Price float64  `json:"price"`
	Tags  []string `json:"tags,omitempty"`
}

type Order struct {
	ID    int    `json:"id"`
	Items []Item `json:"items"`
}

func main() {
	order := Order{ID: 42, Items: []Item{
		{Name: "keel", Price: 12.5, Tags: []string{"wasm", "rust"}},
		{Name: "anchor", Price: 99.99},
		{Name: "rope", Price: 3.25, Tags: []string{"hemp"}},
	}}
	data, err := json.Marshal(order)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var back Order
	if err := json.Unmarshal(data, &back); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sort.Slice(back.Items, func(i, j int) bool { return back.Items[i].Price < back.Items[j].Price })
	var out bytes.Buffer
	fmt.Fprintf(&out, "order %d:\n", back.ID)
	for _, it := range back.Items {
		fmt.Fprintf(&out, "  %-10s %8.2f %s\n", it.Name, it.Price, strings.Join(it.Tags, ","))
	}
	fmt.Print(out.String())
	fmt.Printf("sha256 %x\n", sha256.Sum256(data))
	re := regexp.MustCompile(`"name":"([a-z]+)"`)
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		fmt.Println("name", m[1])
	}
}
