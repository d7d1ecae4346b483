from bot.wire import restore_recursion_limit

restore_recursion_limit()  # eth-account's py_ecc raises it to 100000 at import: deep JSON would then crash the process
