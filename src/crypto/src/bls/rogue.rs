//! The rogue-key attack on fast aggregate verification, for tests that show why every
//! validator key must come with a proof of possession (PBFT-K1).
//!
//! A certificate is checked as one aggregate signature over one message against the sum of
//! the signers' public keys. A member who registers `pk_rogue = r·G - Σ pk_i` (the others'
//! keys subtracted from a key it owns) makes the signers' key sum `r·G`, so it alone can sign
//! for all of them. It cannot prove possession of `pk_rogue`, since it does not know its
//! discrete logarithm; [`BlsPublicKey::from_hex_with_possession`] therefore refuses it.

use super::keys::{BlsKeyError, BlsPublicKey, BlsSecretKey, PUBLIC_KEY_LEN};
use blst::min_pk::{AggregatePublicKey, PublicKey};

/// Bit of a compressed G1 point's first byte that selects the larger of `y` and `-y`:
/// flipping it negates the point (no subgroup point has `y = 0`).
const SIGN_BIT: u8 = 0x20;

/// `-pk`, computed on the compressed encoding.
fn negate(pk: &BlsPublicKey) -> Result<PublicKey, BlsKeyError> {
    let mut bytes: [u8; PUBLIC_KEY_LEN] = pk.to_bytes();
    bytes[0] ^= SIGN_BIT;
    PublicKey::key_validate(&bytes).map_err(BlsKeyError::PublicKey)
}

/// The key an attacker holding `own` registers so that the aggregate of `cancelled` plus the
/// returned key equals `own.public_key()`: `own·G - Σ cancelled`.
pub fn rogue_public_key(
    own: &BlsSecretKey,
    cancelled: &[BlsPublicKey],
) -> Result<BlsPublicKey, BlsKeyError> {
    let own_pk = own.public_key();
    let negated = cancelled
        .iter()
        .map(negate)
        .collect::<Result<Vec<_>, _>>()?;
    let mut parts: Vec<&PublicKey> = vec![own_pk.point()];
    parts.extend(negated.iter());
    let sum = AggregatePublicKey::aggregate(&parts, false)
        .map_err(BlsKeyError::PublicKey)?
        .to_public_key();
    BlsPublicKey::from_bytes(&sum.compress())
}
