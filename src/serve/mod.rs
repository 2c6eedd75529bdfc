//! The live page for supervisors: `/alerts` (Server-Sent Events), clips and scores over HTTP.
