-- GET the URL given to wrk with the headers in BENCH_HEADERS.
dofile(os.getenv("BENCH_LUA_DIR") .. "/report.lua")
