module github.com/flowssl/flowssl/tools/gotchprep

go 1.26.8
