"""The platform-neutral conversation. Front ends turn platform events into `Turn`s and render `Message`s."""
