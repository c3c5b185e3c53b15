module histogram

go 1.21
