//! The private CA the directory's certificates chain to, checked once when the setting is
//! read: a bundle that cannot verify anything is a configuration error at load time, not a
//! TLS failure at the first connection.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// One or more CA certificates, each parsed as a trust anchor. The only constructor is
/// [`CaBundle::from_pem`].
#[derive(Clone, PartialEq, Eq)]
pub struct CaBundle {
    certificates: Vec<CertificateDer<'static>>,
}

impl CaBundle {
    /// Reads the PEM `CERTIFICATE` blocks of `pem` (other blocks, such as a stray private
    /// key, are ignored); the error is the reason, for the caller to wrap with the setting's
    /// name.
    pub fn from_pem(pem: &str) -> Result<Self, String> {
        let mut certificates = Vec::new();
        for cert in CertificateDer::pem_slice_iter(pem.trim().as_bytes()) {
            certificates.push(cert.map_err(|e| format!("it is not PEM ({e})"))?);
        }
        if certificates.is_empty() {
            return Err(
                "it holds no PEM certificate: expected -----BEGIN CERTIFICATE----- … \
                 -----END CERTIFICATE----- blocks of the CA that signed the domain \
                 controllers' certificates"
                    .into(),
            );
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in &certificates {
            roots
                .add(cert.clone())
                .map_err(|e| format!("a certificate in it cannot be a trust anchor ({e})"))?;
        }
        Ok(Self { certificates })
    }

    /// The certificates, in the bundle's order.
    pub fn certificates(&self) -> &[CertificateDer<'static>] {
        &self.certificates
    }

    /// A root store trusting exactly these certificates.
    pub fn root_store(&self) -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        // Every certificate was accepted by the same call in `from_pem`.
        let (_added, _ignored) = roots.add_parsable_certificates(self.certificates.iter().cloned());
        roots
    }
}

/// Certificates are public, but hundreds of lines of base64 help nobody reading a log.
impl std::fmt::Debug for CaBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CaBundle({} certificate(s))", self.certificates.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_without_a_certificate_is_refused() {
        let err = CaBundle::from_pem("not a pem").unwrap_err();
        assert!(err.contains("no PEM certificate"), "{err}");
    }

    #[test]
    fn a_block_that_is_not_a_certificate_is_refused() {
        let pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        let err = CaBundle::from_pem(pem).unwrap_err();
        assert!(
            err.contains("trust anchor") || err.contains("not PEM"),
            "{err}"
        );
    }
}
