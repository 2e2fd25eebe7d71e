//! Makes it sound like a record: SoundFont synthesis of the arranged parts, the mixing chain, cover art.
