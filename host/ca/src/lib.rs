//! The Connect CA's pure core: configuration, roots, intermediates, SPIFFE IDs, leaf signing.
