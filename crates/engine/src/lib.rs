//! The pipeline facade: vocal bytes and request settings in; plan and finished tracks out. Pure and synchronous.
