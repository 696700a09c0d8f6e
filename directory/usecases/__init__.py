"""The use cases: what the directory answers (geography, the catalogue, a patch, search,
changes, funding, status) and the data refresh, as plain Python over the store. No Flask here;
the web layer and the command line call them."""
