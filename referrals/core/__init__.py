"""What every feature shares: time, transactions, errors, identity, policies, audit."""
