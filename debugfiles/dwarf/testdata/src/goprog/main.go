package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

func main() {
	xs := strings.Fields(strings.Repeat("b a c ", len(os.Args)))
	sort.Strings(xs)
	fmt.Println(xs)
}
