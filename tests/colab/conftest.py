"""The Colab simulation runs only through `make colab` (ATTNVIZ_COLAB=1): it builds a 7 GB environment."""
